package sh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/interp"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// grace is how long a foreground command has to exit after the signal that
// ends the run was passed on to it, before it is killed.
const grace = 10 * time.Second

// job is a background command ccci-sh started as a real child process, so
// that $!, kill and wait act on real pids (the interpreter's own background
// statements are goroutines whose $! reads "g1", "g2"...).
type job struct {
	pid    int
	done   chan struct{}
	status int // valid once done is closed
}

// command resolves args to a process: ccci applets and builtins are this
// same binary (as ccci-APPLET, or as ccci-sh -c '"$@"'), anything else is
// looked up in the script's PATH.
func (s *shell) command(hc interp.HandlerContext, args []string) (*exec.Cmd, error) {
	path, argv := "", args
	switch {
	case s.env.Exe != "" && args[0] == "ccci":
		path = s.env.Exe
	case s.env.Exe != "" && strings.HasPrefix(args[0], "ccci-") && s.isApplet(args[0]):
		path = s.env.Exe
	case s.env.Exe != "" && interp.IsBuiltin(args[0]):
		path, argv = s.env.Exe, append([]string{"ccci-sh", "-c", `"$@"`, "ccci-sh"}, args...)
	default:
		p, err := interp.LookPathDir(hc.Dir, hc.Env, args[0])
		if err != nil {
			return nil, err
		}
		path = p
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: environ(hc.Env), Dir: hc.Dir,
		Stdin: hc.Stdin, Stdout: hc.Stdout, Stderr: hc.Stderr, WaitDelay: grace}
	return cmd, nil
}

func (s *shell) isApplet(name string) bool {
	_, _, ok := s.applet([]string{name})
	return ok
}

// start starts cmd; a script without a #! line runs under ccci-sh, as
// other shells run it under themselves.
func (s *shell) start(hc interp.HandlerContext, cmd *exec.Cmd, setsid bool) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
	err := cmd.Start()
	if errors.Is(err, syscall.ENOEXEC) && s.env.Exe != "" {
		retry := *cmd
		retry.Path, retry.Args = s.env.Exe, append([]string{"ccci-sh", cmd.Path}, cmd.Args[1:]...)
		retry.Process, retry.ProcessState = nil, nil
		*cmd = retry
		err = cmd.Start()
	}
	return err
}

func (s *shell) notFound(hc interp.HandlerContext, name string, err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) || strings.Contains(err.Error(), "not found") {
		s.posf(hc, "%s: command not found", name)
		return interp.ExitStatus(applet.ExitNotFound)
	}
	s.posf(hc, "%s: %v", name, err)
	return interp.ExitStatus(applet.ExitCannotRun)
}

// foreground runs args and waits for it. If the run ends by an untrapped
// signal meanwhile, the command (its whole session under setsid) gets that
// signal, then SIGKILL after grace. A trapped signal leaves it alone: the
// trap runs once it returns, as in bash.
func (s *shell) foreground(ctx context.Context, args []string, setsid bool) error {
	hc := interp.HandlerCtx(ctx)
	cmd, err := s.command(hc, args)
	if err != nil {
		return s.notFound(hc, args[0], err)
	}
	if err := s.start(hc, cmd, setsid); err != nil {
		return s.notFound(hc, args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sig := syscall.Signal(s.fatal.Load())
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		target := cmd.Process.Pid
		if setsid {
			target = -target
		}
		syscall.Kill(target, sig)
		select {
		case err = <-done:
		case <-time.After(grace):
			syscall.Kill(target, syscall.SIGKILL)
			err = <-done
		}
	}
	return exitErr(waitStatus(cmd, err))
}

func waitStatus(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	return applet.Status(cmd.ProcessState)
}

// background starts args as a real child process and records it as a job;
// $! then reads its pid. "setsid CMD &" makes CMD a session leader, so its
// pid is also its process group id: kill -TERM -- -$! ends its whole tree.
func (s *shell) background(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	setsid := false
	if args[0] == "setsid" {
		cmd, ok := setsidArgs(hc, args[1:])
		if !ok {
			return interp.ExitStatus(applet.ExitUsage)
		}
		args, setsid = cmd, true
	}
	cmd, err := s.command(hc, args)
	if err != nil {
		return s.notFound(hc, args[0], err)
	}
	if err := s.start(hc, cmd, setsid); err != nil {
		return s.notFound(hc, args[0], err)
	}
	j := &job{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		j.status = waitStatus(cmd, err)
		close(j.done)
	}()
	s.mu.Lock()
	s.jobs = append(s.jobs, j)
	s.lastBg = strconv.Itoa(j.pid)
	s.mu.Unlock()
	return nil
}

// setsidArgs takes util-linux setsid's options: -w (wait, which ccci-sh
// always does for a foreground command) and -f (always forks) are no-ops.
func setsidArgs(hc interp.HandlerContext, args []string) ([]string, bool) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-w", "--wait", "-f", "--fork":
			args = args[1:]
			continue
		case "--":
			args = args[1:]
		default:
			errorf(hc, "setsid: invalid option %s", args[0])
			return nil, false
		}
		break
	}
	if len(args) == 0 {
		errorf(hc, "setsid: usage: setsid [-w] COMMAND [ARG...]")
		return nil, false
	}
	return args, true
}

// findJob resolves PID or %N to one of our jobs.
func (s *shell) findJob(spec string) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := strings.CutPrefix(spec, "%"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 1 || i > len(s.jobs) {
			return nil
		}
		return s.jobs[i-1]
	}
	pid, err := strconv.Atoi(spec)
	if err != nil {
		return nil
	}
	for i := len(s.jobs) - 1; i >= 0; i-- {
		if s.jobs[i].pid == pid {
			return s.jobs[i]
		}
	}
	return nil
}

// waitBuiltin is wait [PID|%N|gN...]. In the main shell a trapped signal
// interrupts it: it returns 128+N right after running the trap, as bash's
// wait does. gN are the interpreter's in-process background statements.
func (s *shell) waitBuiltin(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	if len(args) == 0 {
		s.mu.Lock()
		jobs := append([]*job(nil), s.jobs...)
		s.mu.Unlock()
		for _, j := range jobs {
			if _, err := s.waitJob(ctx, hc, j); err != nil {
				return err
			}
		}
		return hc.Builtin(ctx, []string{"wait"})
	}
	var last error
	for _, a := range args {
		if strings.HasPrefix(a, "g") {
			last = hc.Builtin(ctx, []string{"wait", a})
			continue
		}
		j := s.findJob(a)
		if j == nil {
			errorf(hc, "wait: pid %s is not a child of this shell", a)
			last = interp.ExitStatus(applet.ExitNotFound)
			continue
		}
		st, err := s.waitJob(ctx, hc, j)
		if err != nil {
			return err
		}
		last = exitErr(st)
	}
	return last
}

// waitJob waits for j; a non-nil error is an interruption to return as is.
func (s *shell) waitJob(ctx context.Context, hc interp.HandlerContext, j *job) (int, error) {
	main := !inSubshell(hc) && !s.inTrap.Load()
	for {
		if main && s.hasPending() {
			sig, err := s.runPending(ctx, hc, true)
			if err != nil {
				return 0, err
			}
			if sig != 0 {
				return 0, interp.ExitStatus(uint8(applet.SignalStatus(sig)))
			}
		}
		select {
		case <-j.done:
			return j.status, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.wake:
		}
	}
}

// killBuiltin is kill [-s SIG | -n N | -SIG] PID|%N|-PGID... and kill -l.
func (s *shell) killBuiltin(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	sig := syscall.SIGTERM
	if len(args) > 0 {
		a := args[0]
		switch {
		case a == "-l" || a == "-L":
			for n := 1; n < 32; n++ {
				if name := signalName(syscall.Signal(n)); !strings.HasPrefix(name, "1") && !strings.HasPrefix(name, "3") {
					fmt.Fprintf(hc.Stdout, "%2d) %s\n", n, name)
				}
			}
			return nil
		case (a == "-s" || a == "-n") && len(args) > 1:
			p, ok := parseSignal(args[1])
			if !ok {
				errorf(hc, "kill: %s: invalid signal specification", args[1])
				return interp.ExitStatus(1)
			}
			sig, args = p, args[2:]
		case a == "--":
		case strings.HasPrefix(a, "-") && len(a) > 1:
			p, ok := parseSignal(a[1:])
			if !ok {
				errorf(hc, "kill: %s: invalid signal specification", a[1:])
				return interp.ExitStatus(1)
			}
			sig, args = p, args[1:]
		}
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		errorf(hc, "kill: usage: kill [-s SIG | -SIG] PID|%%N|-PGID...")
		return interp.ExitStatus(applet.ExitUsage)
	}
	status := 0
	for _, a := range args {
		pid := 0
		if strings.HasPrefix(a, "%") {
			if j := s.findJob(a); j != nil {
				pid = j.pid
			}
		} else if n, err := strconv.Atoi(a); err == nil && n != 0 {
			pid = n
		}
		if pid == 0 {
			if strings.HasPrefix(a, "g") {
				errorf(hc, "kill: %s: a background compound command runs inside ccci-sh and has no pid", a)
			} else {
				errorf(hc, "kill: %s: arguments must be process or job IDs", a)
			}
			status = 1
			continue
		}
		if err := s.kill(pid, sig); err != nil {
			errorf(hc, "kill: (%d) - %v", pid, err)
			status = 1
		}
	}
	return exitErr(status)
}

// kill sends sig to pid. When that reaches this very process (kill $$,
// kill 0, our group), it returns once ccci-sh has taken the signal, so the
// trap runs before the next command, as bash's does.
func (s *shell) kill(pid int, sig syscall.Signal) error {
	self := pid == os.Getpid() || pid == 0 || pid == -1 || -pid == syscall.Getpgrp()
	if !self || !isTrappable(sig) {
		return syscall.Kill(pid, sig)
	}
	s.mu.Lock()
	tick := s.tick
	s.mu.Unlock()
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	select {
	case <-tick:
	case <-time.After(time.Second): // only if the signal was lost
	}
	return nil
}
