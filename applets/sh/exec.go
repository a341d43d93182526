package sh

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// call runs before every simple command, builtins included. It routes
// trap, wait and kill to ccci-sh's own versions, and it is the safe point
// where pending signal traps run: after the previous command returned,
// before this one starts (bash runs them at the same point).
func (s *shell) call(ctx context.Context, args []string) ([]string, error) {
	if args[0] == internal+"div0" {
		// A command's division by zero (divisions): the error fails it.
		return nil, errors.New(args[1])
	}
	if args[0] != internal+"errtrap" {
		s.calls.Add(1)
	}
	switch args[0] {
	case internal + "trapdone", internal + "status", internal + "setlast", internal + "errtrap":
		return args, nil
	case "trap", "wait", "kill":
		args = append([]string{internal + args[0]}, args[1:]...)
	}
	if s.hasPending() && !s.inTrap.Load() && !inSubshell(interp.HandlerCtx(ctx)) {
		args = append([]string{internal + "runtraps"}, args...)
	}
	return args, nil
}

// inSubshell reports whether the handler runs in a subshell of the script
// (marked by rewrite): traps belong to the main shell only.
func inSubshell(hc interp.HandlerContext) bool { return hc.Env.Get(subVar).IsSet() }

func (s *shell) execMiddleware(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		switch args[0] {
		case internal + "runtraps":
			// Run the traps, then the command they preceded, re-quoted:
			// eval runs it as the interpreter would have, builtins and
			// functions included.
			if _, err := s.runPending(ctx, hc, false); err != nil {
				return err
			}
			return hc.Builtin(ctx, []string{"eval", quote(args[1:])})
		case internal + "trapdone":
			s.trapDone.Store(true)
			return nil
		case internal + "errtrap":
			return s.errTrapRun(ctx, hc)
		case internal + "status":
			n, _ := strconv.Atoi(args[1])
			return exitErr(n)
		case internal + "setlast":
			s.mu.Lock()
			s.lastBg = args[1]
			s.mu.Unlock()
			return nil
		case internal + "trap":
			return s.trapBuiltin(ctx, args[1:])
		case internal + "wait":
			return s.waitBuiltin(ctx, args[1:])
		case internal + "kill":
			return s.killBuiltin(ctx, args[1:])
		case internal + "bg":
			return s.background(ctx, args[1:])
		case "setsid":
			cmd, ok := setsidArgs(hc, args[1:])
			if !ok {
				return interp.ExitStatus(applet.ExitUsage)
			}
			return s.foreground(ctx, cmd, true)
		}
		if m, rest, ok := s.applet(args); ok {
			return s.inProcess(ctx, hc, m, rest)
		}
		return s.foreground(ctx, args, false)
	}
}

// applet finds the in-process applet behind ccci-NAME or ccci NAME.
func (s *shell) applet(args []string) (applet.Main, []string, bool) {
	if s.env.Lookup == nil {
		return nil, nil, false
	}
	name, rest := args[0], args[1:]
	switch {
	case name == "ccci" && len(rest) > 0:
		name, rest = rest[0], rest[1:]
	case strings.HasPrefix(name, "ccci-"):
		name = strings.TrimPrefix(name, "ccci-")
	default:
		return nil, nil, false
	}
	m, ok := s.env.Lookup(name)
	return m, rest, ok
}

// inProcess runs a ccci applet in this process, with the script's
// environment, directory and streams; its status is the command's.
func (s *shell) inProcess(ctx context.Context, hc interp.HandlerContext, m applet.Main, args []string) error {
	stdin := hc.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	env := &applet.Env{
		Stdin: stdin, Stdout: hc.Stdout, Stderr: hc.Stderr,
		Environ: environ(hc.Env), Dir: hc.Dir,
		Exe: s.env.Exe, Lookup: s.env.Lookup,
	}
	return exitErr(m(ctx, env, args))
}

func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		var err error
		if q[i], err = syntax.Quote(a, syntax.LangBash); err != nil {
			q[i] = sq(a) // not printable as-is: plain single quotes keep it
		}
	}
	return strings.Join(q, " ")
}
