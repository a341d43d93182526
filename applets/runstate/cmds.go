package runstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/app"
	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
	rs "git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

// initRun creates the run and prints its export lines, all at once and only
// on success, so a failing eval "$(ccci-runstate init)" evaluates nothing.
func initRun(env *applet.Env, r *rs.Run) int {
	abraDir, err := app.AbraDir(env.Getenv)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	abraDir, err = abs(env, abraDir)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitFailure
	}
	if err := r.CheckNotTaken(); err != nil {
		env.Errorf(prog, "init %s: %v", r.ID, err)
		return applet.ExitFailure
	}
	base, err := rs.AbraBase(r.RunsDir, abraDir)
	if err == nil {
		err = r.Init(base)
	}
	if err != nil {
		env.Errorf(prog, "init %s: %v", r.ID, err)
		return applet.ExitFailure
	}
	var b strings.Builder
	for _, kv := range r.Exports() {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], rs.Quote(kv[1]))
	}
	fmt.Fprint(env.Stdout, b.String())
	return applet.ExitOK
}

func counter(env *applet.Env, r *rs.Run, sub, name string) int {
	var err error
	var n int64
	switch sub {
	case "path":
		var p string
		if p, err = r.Path(name); err == nil {
			fmt.Fprintln(env.Stdout, p)
			return applet.ExitOK
		}
	case "incr":
		n, err = r.Incr(name)
	case "get":
		n, err = r.Get(name)
	}
	if err != nil {
		env.Errorf(prog, "%s %s: %v", sub, name, err)
		return applet.ExitFailure
	}
	fmt.Fprintln(env.Stdout, n)
	return applet.ExitOK
}

func remove(env *applet.Env, r *rs.Run, o opts) int {
	if err := r.Remove(o.force, o.minAge); err != nil {
		if errors.Is(err, rs.ErrLive) && !o.force {
			env.Errorf(prog, "rm: %v; not removed (use --force)", err)
		} else if errors.Is(err, rs.ErrLive) {
			env.Errorf(prog, "rm: %v; not removed", err)
		} else {
			env.Errorf(prog, "rm: %v", err)
		}
		return applet.ExitFailure
	}
	return applet.ExitOK
}

type lsEntry struct {
	rs.Info
	AgeSeconds float64 `json:"age_seconds"`
}

func ls(env *applet.Env, runsDir string, o opts) int {
	infos, err := rs.List(runsDir, o.minAge)
	var skipped []*rs.EntryError
	if err != nil {
		skipped = rs.EntryErrors(err)
		if skipped == nil {
			env.Errorf(prog, "ls: %v", err)
			return applet.ExitFailure
		}
	}
	// Runs that could not be probed are named on stderr, the rest listed,
	// and the status is 1: nothing is hidden, nothing passes silently.
	status := applet.ExitOK
	for _, e := range skipped {
		env.Errorf(prog, "ls: skipped %v", e)
		status = applet.ExitFailure
	}
	if o.json {
		out := make([]lsEntry, 0, len(infos))
		for _, i := range infos {
			out = append(out, lsEntry{i, i.Age.Seconds()})
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			env.Errorf(prog, "ls: %v", err)
			return applet.ExitFailure
		}
		return status
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tAGE\tSIZE")
	for _, i := range infos {
		state := "dead"
		switch {
		case i.Held:
			state = "live"
		case i.Live:
			state = "live(young)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", i.ID, state, i.Age.Round(time.Second), i.Size)
	}
	tw.Flush()
	return status
}

// hold runs cmd while holding the run's live-lock, inside the run
// lifetime ccci-lock has (internal/lifetime): cmd in its own PID namespace
// or process group, and every way the hold ends (a terminating signal, the
// deadline, the death of our parent) ends cmd's whole tree — SIGTERM, so
// its traps run, then grace, then SIGKILL — before the live-lock is
// released; with o.rm the run's directory is then removed, unless another
// process holds it live. The lock fd is close-on-exec: cmd never inherits it
// (tests/testdata/runstate/hold.txtar).
func hold(ctx context.Context, env *applet.Env, r *rs.Run, o opts, cmd []string) int {
	if o.deadline == 0 {
		return env.Usage(prog, Usage, errors.New("--deadline must be more than 0"))
	}
	if o.grace == 0 {
		return env.Usage(prog, Usage, errors.New("--grace must be more than 0"))
	}
	held, err := r.HoldLive()
	if err != nil {
		env.Errorf(prog, "hold: %v", err)
		return applet.ExitFailure
	}
	release := sync.OnceFunc(held)
	defer release() // after lt.End: the tree is gone first
	lt := lifetime.Begin(ctx, lifetime.Options{Prog: prog, Stderr: env.Stderr, Deadline: o.deadline, Grace: o.grace, Exits: env.Exits})
	defer lt.End()
	st, err := lt.Run(lifetime.Cmd{
		Argv:   cmd,
		Env:    env.With("CCCI_RUN_ID=" + r.ID).Environ,
		Dir:    env.Dir,
		Stdin:  env.Stdin,
		Stdout: env.Stdout,
		Stderr: env.Stderr,
	})
	if err != nil {
		env.Errorf(prog, "hold: %v", err)
	}
	if o.rm {
		lt.End()
		release()
		// Not forced: a run another process still holds live (another
		// build with the same id) is left to it.
		if err := r.Remove(false, 0); err != nil && !errors.Is(err, rs.ErrLive) {
			env.Errorf(prog, "hold: rm: %v", err)
		}
	}
	return st
}
