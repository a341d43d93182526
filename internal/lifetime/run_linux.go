package lifetime

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Cmd is a command for Run. Nil streams are /dev/null; *os.File streams are
// handed to the command as they are (no copying goroutines).
type Cmd struct {
	Argv, Env []string // Env nil: this process's environment
	Dir       string
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	// Started, if set, is called once the command's init is ready and
	// about to start the command (or gone), from its own goroutine.
	Started func()
}

// How the command's tree is contained.
type mode int

const (
	modePIDNS     mode = iota + 1 // a new PID namespace
	modeUserPIDNS                 // a new user and PID namespace (unprivileged)
	modePgroup                    // fallback: process group under a subreaper init
)

// pgroupMargin is how long past Grace Run waits for a fallback init to end
// the tree itself before SIGKILLing it: killing it first would orphan the
// tree it is sweeping.
const pgroupMargin = 2 * time.Second

var (
	modeMu     sync.Mutex
	knownMode  mode // the mode the kernel accepted last; 0 until known
	fallbackMu sync.Once
)

// Run runs c to completion or until the funnel is entered, and returns the
// command's status (128+N when killed by signal N), or Status() after the
// funnel: SIGTERM to the tree, Grace, SIGKILL, and Run returns only once the
// init is reaped. The caller may release its lock when Run returns. err is
// non-nil only when the command could not be started.
func (l *Lifetime) Run(c Cmd) (status int, err error) {
	if len(c.Argv) == 0 {
		return applet.ExitCannotRun, errors.New("run: no command")
	}
	if st := l.Status(); st != 0 {
		return st, nil // already tearing down: start nothing
	}
	streams, err := newStdio(c)
	if err != nil {
		return applet.ExitCannotRun, err
	}
	defer streams.close()
	// The init's Pdeathsig fires when the thread that forked it exits: keep
	// this goroutine on it until the init is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, m, hold, err := l.start(c, streams.files)
	streams.started()
	if err != nil {
		return applet.ExitCannotRun, err
	}
	defer hold.Close()
	if c.Started != nil {
		notifyStarted(hold, c.Started)
	}

	waited := make(chan int, 1) // the init's status
	go func() {
		ws, err := p.Wait()
		if err != nil {
			waited <- applet.ExitCannotRun
			return
		}
		waited <- applet.WaitStatus(ws)
	}()
	select {
	case st := <-waited:
		streams.wait(l.o.Grace)
		return st, nil
	case <-l.ctx.Done():
	}
	// The funnel: the init forwards SIGTERM to the whole tree, and SIGKILL
	// of the init ends its namespace. A SIGTERM that reached the init
	// before it takes SIGTERM would be lost (the kernel drops it for a
	// namespace's PID 1) and the run would wait out the whole grace: a
	// funnel entered in the init's first moments first waits, at most the
	// grace, until the init is ready (TestInitReady). One that never gets
	// ready started nothing (the inits start the command only after), so
	// it is killed at once.
	grace := l.teardownGrace()
	if m == modePgroup {
		grace += pgroupMargin
	}
	if !awaitInit(hold, grace) {
		p.Signal(syscall.SIGKILL)
		<-waited
		streams.wait(l.o.Grace)
		return l.Status(), nil
	}
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-waited:
	case <-t.C:
		p.Signal(syscall.SIGKILL)
		<-waited
	}
	streams.wait(l.o.Grace)
	return l.Status(), nil
}

// notifyStarted calls started once the init is ready, when it closes the
// race pipe's read end just before it starts the command (or exits), as
// awaitInit sees it, on a duplicate of hold that Run's Close cannot pull
// away. Nothing waits for it.
func notifyStarted(hold *os.File, started func()) {
	fd, err := unix.FcntlInt(hold.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		started() // cannot tell: now is as good as the init's start
		return
	}
	go func() {
		f := os.NewFile(uintptr(fd), "race")
		defer f.Close()
		awaitInit(f, startedBound)
		started()
	}()
}

// startedBound bounds notifyStarted's wait: an init that neither gets ready
// nor exits this long after its start is stuck, and the caller's work need
// wait no longer.
const startedBound = time.Minute

// awaitInit waits, at most d, until the race pipe's read end is closed:
// the init closes it once it takes SIGTERM (or by exiting). hold is a
// write end of the pipe (Run's, or notifyStarted's duplicate), which then
// polls POLLERR. It reports whether that happened (TestAwaitInit).
func awaitInit(hold *os.File, d time.Duration) bool {
	end := time.Now().Add(d)
	fds := []unix.PollFd{{Fd: int32(hold.Fd())}}
	for {
		ms := max(time.Until(end).Milliseconds(), 0)
		n, err := unix.Poll(fds, int(min(ms, math.MaxInt32)))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return true // cannot tell: send the SIGTERM anyway
		case n > 0 && fds[0].Revents&unix.POLLERR != 0:
			return true
		case ms == 0:
			return false
		}
	}
}

// start re-executes this binary as the init of c, in the first containment
// mode the kernel accepts. hold is the write end of the race pipe: the init
// checks, after arming its Pdeathsig, that we still hold it.
func (l *Lifetime) start(c Cmd, stdio [3]*os.File) (p *child, m mode, hold *os.File, err error) {
	modes := []mode{modePIDNS, modeUserPIDNS, modePgroup}
	reason := ""
	if l.o.NoPIDNS || envSet(c.Env, "CCCI_NO_PIDNS") {
		modes, reason = []mode{modePgroup}, "CCCI_NO_PIDNS set"
	} else {
		modeMu.Lock()
		if knownMode != 0 {
			modes = modes[knownMode-1:]
		}
		modeMu.Unlock()
	}
	for _, m = range modes {
		if m == modePgroup {
			if reason == "" {
				reason = "the kernel refused one"
			}
			fallbackMu.Do(func() {
				l.logf("no PID namespace (%s): process group and subreaper only; a process that leaves the process group can outlive a SIGKILLed %s", reason, l.prog)
			})
		}
		p, hold, err = l.startMode(c, stdio, m)
		if err == nil {
			modeMu.Lock()
			knownMode = m
			modeMu.Unlock()
			return p, m, hold, nil
		}
		if m == modePgroup || !refused(err) {
			break
		}
		reason = err.Error()
	}
	return nil, 0, nil, fmt.Errorf("start %s: %w", c.Argv[0], err)
}

// startMode starts the init of c in mode m. In a PID namespace the init is
// the tiny one (tinyinit/init.c, from a memfd) where there is one, unless
// CCCI_GO_INIT is set; if it cannot be started, ccci itself is, and if
// that works the tiny init is not tried again in this process.
func (l *Lifetime) startMode(c Cmd, stdio [3]*os.File, m mode) (*child, *os.File, error) {
	if m != modePgroup && !tinyOff.Load() && !envSet(c.Env, "CCCI_GO_INIT") {
		if f, err := tinyInitFile(); err == nil {
			p, hold, err := l.startInit(c, stdio, m, f)
			if err == nil {
				return p, hold, nil
			}
			p, hold, err = l.startInit(c, stdio, m, nil)
			if err == nil {
				tinyOff.Store(true)
			}
			return p, hold, err
		}
	}
	return l.startInit(c, stdio, m, nil)
}

// startInit starts /proc/self/exe as the init, or tiny (at fd tinyFD)
// when it is not nil; both take the same argv.
func (l *Lifetime) startInit(c Cmd, stdio [3]*os.File, m mode, tiny *os.File) (*child, *os.File, error) {
	r, w, err := racePipe()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	switch m {
	case modePIDNS:
		sys.Cloneflags = syscall.CLONE_NEWPID
	case modeUserPIDNS:
		sys.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
	case modePgroup:
		// SIGTERM, not SIGKILL: the init then ends the tree itself
		// (no namespace would do it for us).
		sys.Pdeathsig = syscall.SIGTERM
	}
	argv := append([]string{"ccci", InitArg, l.prog, m.arg(), l.o.Grace.String()}, c.Argv...)
	exe, files := "/proc/self/exe", []*os.File{stdio[0], stdio[1], stdio[2], r}
	if tiny != nil {
		exe, files = fmt.Sprintf("/proc/self/fd/%d", tinyFD), append(files, tiny)
	}
	p, err := startChild(exe, argv, c.Env, c.Dir, files, sys)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return p, w, nil
}

// refused reports whether err is the kernel declining a namespace, as
// opposed to a failure that any mode would hit.
func refused(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS) ||
		errors.Is(err, syscall.EACCES)
}

// envSet reports whether key is set, and not to "0", in env (nil: this
// process's environment): CCCI_NO_PIDNS, CCCI_GO_INIT.
func envSet(env []string, key string) bool {
	if env == nil {
		env = os.Environ()
	}
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v != "" && v != "0"
}

func (m mode) arg() string {
	return map[mode]string{modePIDNS: "ns", modeUserPIDNS: "ns", modePgroup: "pg"}[m]
}
