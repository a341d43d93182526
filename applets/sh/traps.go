package sh

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/interp"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
)

// trappable are the signals ccci-sh catches for its whole run. Untrapped,
// each ends the run as bash's default action would (128+N), but only after
// the foreground command got the signal and the EXIT trap ran.
var trappable = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT,
	syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2}

func isTrappable(sig syscall.Signal) bool {
	for _, t := range trappable {
		if t == sig {
			return true
		}
	}
	return false
}

// watch records each signal: trapped ones become pending, to run at the
// next safe point; ignored ones are dropped; any other ends the run.
func (s *shell) watch(sigs <-chan os.Signal, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case v := <-sigs:
			sig := v.(syscall.Signal)
			s.mu.Lock()
			action, trapped := s.traps[sig]
			switch {
			case trapped && action == "":
			case trapped:
				s.pending = append(s.pending, sig)
				select {
				case s.wake <- struct{}{}:
				default:
				}
			default:
				// The first untrapped signal ends the run; later ones
				// change nothing, so a storm of them cannot cut short
				// the EXIT trap the first one started (TestSignalStorm).
				if s.fatal.CompareAndSwap(0, int32(sig)) {
					s.cancel(s.ended(sig))
				}
			}
			close(s.tick)
			s.tick = make(chan struct{})
			s.mu.Unlock()
		}
	}
}

// ended is the cancel cause an in-process applet's lifetime reports as
// its reason, so that it names the signal whichever of its handler and
// ours sees it first (tests/testdata/pipeline/cancel, sigkill).
func (s *shell) ended(sig syscall.Signal) *lifetime.Ended {
	reason := signalName(sig)
	if sig == syscall.SIGTERM && os.Getppid() != s.ppid {
		reason = "parent process died (SIGTERM)"
	}
	return &lifetime.Ended{Status: applet.SignalStatus(sig), Reason: reason}
}

func (s *shell) hasPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}

// popPending returns the next pending signal whose trap is still set.
func (s *shell) popPending() (syscall.Signal, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pending) > 0 {
		sig := s.pending[0]
		s.pending = s.pending[1:]
		if action := s.traps[sig]; action != "" {
			return sig, action, true
		}
	}
	return 0, "", false
}

// runPending runs the pending traps from inside an exec handler, in the
// runner that called it. It returns the first signal handled, and a non-nil
// error when an action ran exit (or return, break...): the caller must hand
// that error back to the interpreter untouched and stop.
//
// fromWait makes $? read 128+N in the action, as after bash's interrupted
// wait; otherwise $? is the status of the command before, as in bash.
func (s *shell) runPending(ctx context.Context, hc interp.HandlerContext, fromWait bool) (syscall.Signal, error) {
	if !s.inTrap.CompareAndSwap(false, true) {
		return 0, nil
	}
	defer s.inTrap.Store(false)
	var first syscall.Signal
	for {
		sig, action, ok := s.popPending()
		if !ok {
			return first, nil
		}
		if first == 0 {
			first = sig
		}
		// The marker runs only if the action did not leave the shell:
		// the interpreter's exit status does not say so by itself.
		src := action + "\n" + internal + "trapdone"
		if fromWait {
			// Part of an && list, a failure sets $? without errexit or ERR.
			src = fmt.Sprintf("%sstatus %d && :\n%s", internal, applet.SignalStatus(sig), src)
		}
		s.trapDone.Store(false)
		err := hc.Builtin(ctx, []string{"eval", src})
		if !s.trapDone.Load() {
			return first, err
		}
	}
}

// parseSignal takes a signal as a number, NAME or SIGNAME, any case.
func parseSignal(spec string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 0 || n > 64 {
			return 0, false
		}
		return syscall.Signal(n), true
	}
	name := strings.ToUpper(spec)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, true
	}
	return 0, false
}

func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return strconv.Itoa(int(sig))
}

// trapBuiltin is ccci-sh's trap: EXIT and the trappable signals are its
// own; ERR goes on to the interpreter's. Traps set inside a subshell are
// accepted and ignored (bash resets traps in subshells; listing still shows
// the parent's, so saved=$(trap) works).
func (s *shell) trapBuiltin(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && (args[0] == "-p" || args[0] == "-l") {
		if args[0] == "-l" {
			for _, sig := range trappable {
				fmt.Fprintf(hc.Stdout, "%d) %s\n", sig, signalName(sig.(syscall.Signal)))
			}
			return nil
		}
		s.listTraps(hc, args[1:])
		return nil
	} else if len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		errorf(hc, "trap: %s: invalid option", args[0])
		return interp.ExitStatus(applet.ExitUsage)
	}
	if len(args) == 0 {
		s.listTraps(hc, nil)
		return nil
	}
	action, conds := args[0], args[1:]
	// "trap SIG" and "trap 15 2" reset, as in bash and POSIX.
	if len(args) == 1 {
		action, conds = "-", args
	} else if _, err := strconv.Atoi(action); err == nil {
		action, conds = "-", args
	}
	sub := inSubshell(hc)
	status := 0
	for _, c := range conds {
		switch strings.ToUpper(c) {
		case "EXIT", "0":
			if !sub {
				s.mu.Lock()
				s.exitTrap = map[bool]string{true: "", false: action}[action == "-"]
				s.mu.Unlock()
			}
			continue
		case "ERR":
			// The interpreter runs its ERR trap once per enclosing
			// statement the failure passes (three times for one failing
			// call of a function); @ccci:errtrap runs the action once.
			inner := action
			if action != "-" && action != "" {
				inner = internal + "errtrap"
			}
			if err := hc.Builtin(ctx, []string{"trap", "--", inner, "ERR"}); err != nil {
				return err
			}
			s.mu.Lock()
			s.errTrap = map[bool]string{true: "", false: action}[action == "-"]
			s.mu.Unlock()
			continue
		}
		sig, ok := parseSignal(c)
		if !ok || sig == 0 {
			errorf(hc, "trap: %s: invalid signal specification", c)
			status = 1
			continue
		}
		if !isTrappable(sig) {
			errorf(hc, "trap: %s: ccci-sh traps only EXIT, ERR, HUP, INT, QUIT, TERM, USR1 and USR2", c)
			status = 1
			continue
		}
		if sub {
			continue
		}
		s.mu.Lock()
		if action == "-" {
			delete(s.traps, sig)
		} else {
			s.traps[sig] = action
		}
		s.mu.Unlock()
	}
	return exitErr(status)
}

// listTraps prints the set traps the way bash's trap -p does.
func (s *shell) listTraps(hc interp.HandlerContext, only []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := func(name string, sig syscall.Signal) bool {
		if len(only) == 0 {
			return true
		}
		for _, o := range only {
			if strings.EqualFold(o, name) {
				return true
			}
			if p, ok := parseSignal(o); ok && sig != 0 && p == sig {
				return true
			}
		}
		return false
	}
	if s.exitTrap != "" && want("EXIT", 0) {
		fmt.Fprintf(hc.Stdout, "trap -- %s EXIT\n", sq(s.exitTrap))
	}
	var sigs []int
	for sig := range s.traps {
		sigs = append(sigs, int(sig))
	}
	sort.Ints(sigs)
	for _, n := range sigs {
		sig := syscall.Signal(n)
		if want(signalName(sig), sig) {
			fmt.Fprintf(hc.Stdout, "trap -- %s %s\n", sq(s.traps[sig]), signalName(sig))
		}
	}
	if s.errTrap != "" && want("ERR", 0) {
		fmt.Fprintf(hc.Stdout, "trap -- %s ERR\n", sq(s.errTrap))
	}
}

// sq single-quotes s for the shell, as bash's trap listing does.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// errTrapRun is the interpreter's ERR trap: it runs the script's ERR
// action as bash does without errtrace: once per failing command, not
// again for each statement enclosing it (no simple command ran since it
// last fired), and not inside a function (TestErrTrapOnce,
// tests/testdata/sh/bashlike.txtar).
func (s *shell) errTrapRun(ctx context.Context, hc interp.HandlerContext) error {
	s.mu.Lock()
	action := s.errTrap
	s.mu.Unlock()
	n := s.calls.Load()
	if action == "" || n == s.errFired.Load() || hc.Env.Get(fnVar).IsSet() {
		return nil
	}
	err := hc.Builtin(ctx, []string{"eval", action})
	s.errFired.Store(s.calls.Load())
	return err
}
