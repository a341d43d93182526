package lifetime

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// startPPID is the parent's pid read as early as a Go package can (at
// package initialisation), so Begin can tell whether the parent died before
// PR_SET_PDEATHSIG was armed: then no signal would ever come.
var startPPID = os.Getppid()

// ParentEnv names the variable a harness sets to its own pid on the ccci
// command it starts (scripts/drone-step.sh): the pid of the process whose
// death ends the run, which a shell knows for sure while it runs ($$).
//
// startPPID alone misses a parent that died between fork and Go init:
// getppid() already names the reaper then. parentPID closes that window
// for harnesses that set it: Begin also ends the run when that process has
// exited, whatever getppid() says (tests/testdata/pipeline/ppid_race.txtar).
// It is only ever "gone or not": a wrapper between the harness and ccci
// (sh -c without exec) leaves it naming a live grandparent, which changes
// nothing. The variable is removed from this process's environment at
// package initialisation, so no child of a ccci process inherits it (an
// exec keeps the pid and the parent: setsid(1), env and sh's exec before
// ccci carry it).
const ParentEnv = "CCCI_PARENT_PID"

var parentPID = takeParentEnv()

func takeParentEnv() int {
	v, ok := os.LookupEnv(ParentEnv)
	if !ok {
		return 0
	}
	os.Unsetenv(ParentEnv)
	if pid, err := strconv.Atoi(v); err == nil && pid > 1 {
		return pid
	}
	return 0
}

// parentDied reports whether the parent died: getppid() changed since Go
// init, or the process named by $CCCI_PARENT_PID has exited (a zombie
// included: pidfd_open and poll say so; kill(pid, 0) where pidfds are
// missing). Both read pids in this process's own PID namespace.
func parentDied() bool {
	if os.Getppid() != startPPID {
		return true
	}
	if parentPID == 0 || parentPID == startPPID {
		return false
	}
	fd, err := unix.PidfdOpen(parentPID, 0)
	if err == unix.ESRCH {
		return true
	}
	if err != nil {
		return unix.Kill(parentPID, 0) == unix.ESRCH
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
}

// Defaults for the zero values of Options.Deadline and Options.Grace.
const (
	DefaultDeadline = time.Hour
	DefaultGrace    = 10 * time.Second
)

// Options configure a Lifetime.
type Options struct {
	// Prog names the applet in messages: "lock" (or "ccci-lock") prints
	// "ccci-lock: ...".
	Prog string
	// Stderr receives the funnel's messages; nil discards them.
	Stderr io.Writer
	// Deadline ends the run with status 124; zero means DefaultDeadline.
	Deadline time.Duration
	// Grace is how long the tree has between SIGTERM and SIGKILL; zero
	// means DefaultGrace.
	Grace time.Duration
	// NoPIDNS forces the process-group fallback, as CCCI_NO_PIDNS=1 in
	// the command's environment does.
	NoPIDNS bool
	// Exits says the process exits once the lifetime ends (applet.Env's
	// Exits): End then leaves the signal handlers registered, as it does
	// after the funnel, and a signal between End and the exit is dropped
	// (TestEndLateSignal). Unregistering them is a round trip to the
	// runtime's signal thread per signal, ~0.6 ms of every ccci-lock call
	// (docs/performance.md). Without it, End restores their default
	// action, so a process that goes on (ccci-sh) is not left deaf to them.
	Exits bool
}

// Ended is the cause of a Lifetime's Context once the funnel is entered
// (context.Cause). A Lifetime begun under another's Context inherits its
// status.
type Ended struct {
	Status int
	Reason string // "SIGTERM", "deadline 1h0m0s expired", ...
}

func (e *Ended) Error() string { return "run ended: " + e.Reason }

// Lifetime is one run's lifetime: signal handling, deadline and the funnel.
type Lifetime struct {
	o      Options
	prog   string
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	status int           // 0 until the funnel is entered
	grace  time.Duration // the teardown's grace: o.Grace, or less (EndOnWithin)

	sigs  chan os.Signal // TERM, INT, HUP
	pipe  chan os.Signal // SIGPIPE, so a vanished log reader cannot kill a teardown
	timer *time.Timer
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Begin arms the run's lifetime: PR_SET_PDEATHSIG(SIGTERM) on this process
// with the ppid race check, SIGTERM/SIGINT/SIGHUP, the deadline, and the
// cancellation of ctx. Call End once teardown is complete.
func Begin(ctx context.Context, o Options) *Lifetime {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	l := &Lifetime{
		o:    o,
		prog: progName(o.Prog),
		sigs: make(chan os.Signal, 4),
		pipe: make(chan os.Signal, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	l.grace = o.Grace
	// Values pass through; cancellation only through the funnel, so that
	// Status is set whenever Context is done.
	l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	signal.Notify(l.sigs, Terminating...)
	signal.Notify(l.pipe, syscall.SIGPIPE)
	// Our parent's death arrives as SIGTERM on l.sigs. The check after
	// the prctl closes the race where it died before the prctl.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		l.logf("prctl PR_SET_PDEATHSIG: %v (the death of the parent will not end the run)", err)
	}
	if parentDied() {
		l.enter(applet.SignalStatus(syscall.SIGTERM), "parent process died", nil)
	}
	l.timer = time.AfterFunc(o.Deadline, func() {
		l.enter(applet.ExitDeadline, fmt.Sprintf("deadline %v expired", o.Deadline), nil)
	})
	go l.watch(ctx)
	return l
}

// watch feeds signals and the parent context's cancellation into the funnel.
func (l *Lifetime) watch(parent context.Context) {
	defer close(l.done)
	pdone := parent.Done()
	for {
		select {
		case <-l.stop:
			return
		case s := <-l.sigs:
			sig := s.(syscall.Signal)
			reason := sigName(sig)
			if sig == syscall.SIGTERM && parentDied() {
				reason = "parent process died (SIGTERM)"
			}
			l.enter(applet.SignalStatus(sig), reason, &sig)
		case <-l.pipe:
			// Ignored: a write to a closed pipe fails with EPIPE instead.
		case <-pdone:
			pdone = nil
			st, reason := applet.SignalStatus(syscall.SIGTERM), "cancelled"
			if e, ok := context.Cause(parent).(*Ended); ok {
				st, reason = e.Status, e.Reason
			}
			l.enter(st, reason, nil)
		}
	}
}

// enter is the funnel: the first caller sets the status and cancels the
// Context; a signal arriving afterwards is logged and ignored.
func (l *Lifetime) enter(status int, reason string, sig *syscall.Signal) {
	l.mu.Lock()
	first := l.status == 0
	if first {
		l.status = status
	}
	l.mu.Unlock()
	if !first {
		if sig != nil {
			l.logf("got %s again during teardown; ignoring", sigName(*sig))
		}
		return
	}
	l.logf("%s: ending the run (grace %v)", reason, l.teardownGrace())
	l.cancel(&Ended{Status: status, Reason: reason})
}

// teardownGrace is how long the tree gets between SIGTERM and SIGKILL.
func (l *Lifetime) teardownGrace() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.grace
}

// Context is cancelled when the teardown funnel is entered (and by End).
func (l *Lifetime) Context() context.Context { return l.ctx }

// Status is 0 until the funnel is entered; then 128+N for signal N, or 124
// for the deadline.
func (l *Lifetime) Status() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// End stops signal handling and the deadline. Call it after teardown is
// complete: from then on a SIGTERM is no longer turned into a teardown.
func (l *Lifetime) End() {
	l.once.Do(func() {
		if l.Status() == 0 && !l.o.Exits {
			signal.Stop(l.sigs)
		}
		// else: ended by the funnel, this process is on its way out with
		// 128+N. Stopping would restore the default action, and a late
		// signal of a storm would kill it with its own number after the
		// teardown; left registered, late signals fill l.sigs and are
		// dropped (TestSignalStorm). With Exits, likewise on the way
		// out with the command's status.
		if !l.o.Exits {
			signal.Stop(l.pipe)
		}
		l.timer.Stop()
		close(l.stop)
		<-l.done
		l.cancel(context.Canceled)
	})
}

func (l *Lifetime) logf(format string, args ...any) {
	fmt.Fprintf(l.o.Stderr, "%s: %s\n", l.prog, fmt.Sprintf(format, args...))
}

// progName turns "lock" into "ccci-lock"; "" is "ccci".
func progName(p string) string {
	switch {
	case p == "":
		return "ccci"
	case strings.HasPrefix(p, "ccci"):
		return p
	}
	return "ccci-" + p
}

// Terminating are the signals that end a run through the funnel (exit
// 128+N after teardown): every catchable signal whose default action ends
// a process, but for those that report a fault of this process (SEGV, BUS,
// FPE, ILL, TRAP, SYS: Go's runtime owns them) and three that are ignored
// on purpose: SIGPIPE (a write to a closed pipe fails with EPIPE instead),
// SIGXFSZ (a write past the file size limit fails with EFBIG) and SIGPROF
// (the Go profiler's). Without this list SIGQUIT dumped goroutines and
// exited 2 with the tree still running (TestTerminatingSignals).
var Terminating = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGVTALRM,
	syscall.SIGXCPU, syscall.SIGIO, syscall.SIGPWR, syscall.SIGSTKFLT,
	syscall.SIGABRT,
}

func sigName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// EndOnWithin is EndOn for a cause that leaves the tree at most d to end
// (an etcd lock's safety margin before its lease can expire): the
// teardown it starts gives the tree min(Grace, d/2) between SIGTERM and
// SIGKILL, so every process of the run is gone within d.
func (l *Lifetime) EndOnWithin(ch <-chan struct{}, d time.Duration, status int, reason string) {
	if ch == nil {
		return
	}
	go func() {
		select {
		case <-ch:
			l.mu.Lock()
			if l.status == 0 && d > 0 {
				l.grace = min(l.grace, d/2)
			}
			l.mu.Unlock()
			l.enter(status, reason, nil)
		case <-l.ctx.Done():
		}
	}()
}

// EndOn enters the teardown funnel with status and reason when ch is
// closed — a lock lost while held (an etcd lease that expired) — unless the
// lifetime ended first. A nil ch (a kernel flock is never lost) does nothing.
func (l *Lifetime) EndOn(ch <-chan struct{}, status int, reason string) {
	if ch == nil {
		return
	}
	go func() {
		select {
		case <-ch:
			l.enter(status, reason, nil)
		case <-l.ctx.Done():
		}
	}()
}
