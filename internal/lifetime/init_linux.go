package lifetime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// InitArg, as argv[1], makes ccci the init of a run: busybox.go hands the
// rest of argv to InitMain before anything else.
const InitArg = "__ccci_init"

// raceFD is the read end of the pipe whose write end Run holds.
const raceFD = 3

// InitMain is the init of a run, re-executed by Run; args are
// PROG MODE GRACE COMMAND [ARG...]. It forks the command into its own
// process group, forwards TERM/INT/HUP, reaps every orphan, and when the
// command exits ends whatever it left (SIGTERM, GRACE, SIGKILL), then exits
// with the command's status. It is never the command itself: a PID 1
// without a handler would ignore SIGTERM.
func InitMain(args []string) int { return initMain(args, nil) }

// initMain is InitMain; signalsSet, when not nil, is called once the init
// takes its signals and before it tells Run so (TestInitReady's gate).
func initMain(args []string, signalsSet func()) int {
	if len(args) < 4 {
		fmt.Fprintf(os.Stderr, "ccci: %s is for ccci's own use\n", InitArg)
		return applet.ExitUsage
	}
	prog, pg, argv := args[0], args[1] == "pg", args[3:]
	if !pg && os.Getpid() != 1 {
		// kill(-1) outside a namespace would signal every process we may
		// signal: refuse (TestInitRefusesOutsideNamespace).
		fmt.Fprintf(os.Stderr, "ccci: %s: not PID 1 of a new PID namespace; refusing\n", InitArg)
		return applet.ExitUsage
	}
	grace, err := time.ParseDuration(args[2])
	if err != nil {
		grace = DefaultGrace
	}
	// The command's Pdeathsig (fallback mode) fires when this thread exits.
	runtime.LockOSThread()
	if parentGone() {
		return applet.SignalStatus(syscall.SIGKILL) // nothing was started
	}
	if pg {
		// Orphans come back to us, so the sweep can find and end them.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, Terminating...) // all but TERM forwarded to the command
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if signalsSet != nil {
		signalsSet()
	}
	// Closing the race pipe tells Run we catch SIGTERM now (awaitInit):
	// one sent earlier would be dropped by the kernel (we are PID 1) or
	// end us by Go's default action, and never reach the command.
	syscall.Close(raceFD)

	path, err := exec.LookPath(argv[0])
	if errors.Is(err, exec.ErrDot) {
		err = nil
	}
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		fmt.Fprintf(os.Stderr, "%s: exec %s: %v\n", prog, argv[0], err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return applet.ExitNotFound
		}
		return applet.ExitCannotRun
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if pg {
		sys.Pdeathsig = syscall.SIGKILL
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env: os.Environ(), Files: []uintptr{0, 1, 2}, Sys: sys,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: exec %s: %v\n", prog, strings.Join(argv, " "), err)
		if errors.Is(err, syscall.ENOENT) {
			return applet.ExitNotFound
		}
		return applet.ExitCannotRun
	}
	t := &tree{pg: pg, cmd: pid, grace: grace}
	return t.run(sigc)
}

// parentGone reports whether Run's process died before our Pdeathsig was
// armed: it held the race pipe's only write end. (Go's own check compares
// getppid(), which is 0 in a new PID namespace.)
func parentGone() bool {
	fds := []unix.PollFd{{Fd: raceFD}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// tree is the command and everything it started.
type tree struct {
	pg    bool // fallback: no namespace, sweep our descendants instead
	cmd   int
	grace time.Duration
}

type reaped struct {
	pid int
	ws  syscall.WaitStatus
}

// reap waits for every child, ours or orphaned to us, and closes out when
// none is left.
func reap(out chan<- reaped) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			close(out)
			return
		}
		out <- reaped{pid, ws}
	}
}

func (t *tree) run(sigc <-chan os.Signal) int {
	reapc := make(chan reaped, 16)
	go reap(reapc)
	status := -1
	var killAt <-chan time.Time
	killed := false
	for {
		select {
		case s := <-sigc:
			if s != syscall.SIGTERM {
				syscall.Kill(-t.cmd, s.(syscall.Signal))
			} else if killAt == nil && !killed {
				t.signalAll(syscall.SIGTERM)
				killAt = time.After(t.grace)
			}
		case <-killAt:
			killAt, killed = nil, true
			t.signalAll(syscall.SIGKILL)
		case r, ok := <-reapc:
			if !ok {
				if status < 0 { // cannot happen: the command is our child
					status = applet.ExitCannotRun
				}
				return status
			}
			if r.pid == t.cmd {
				status = applet.WaitStatus(r.ws)
				// End what the command left running, as systemd
				// does with a unit's cgroup.
				if killAt == nil && !killed {
					t.signalAll(syscall.SIGTERM)
					killAt = time.After(t.grace)
				}
			} else if killed {
				t.signalAll(syscall.SIGKILL) // orphans of the killed
			}
		}
	}
}

// signalAll sends sig to every process of the run but us; SIGTERM is
// followed by SIGCONT so that a stopped process can act on it.
func (t *tree) signalAll(sig syscall.Signal) {
	send := func(pid int) {
		syscall.Kill(pid, sig)
		if sig == syscall.SIGTERM {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	if !t.pg && os.Getpid() == 1 {
		send(-1) // as PID 1: everyone in the namespace but us
		return
	}
	for _, pid := range descendants(os.Getpid()) {
		send(pid)
	}
}
