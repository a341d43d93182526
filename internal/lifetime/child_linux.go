package lifetime

import (
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// child is a started init. It is started with syscall.ForkExec, not
// os.StartProcess: the first os.StartProcess of a process runs os's pidfd
// probe (pidfd_open, waitid, pidfd_send_signal and a vfork'd child that
// exits), 0.6–1.5 ms of every ccci-lock call on the CI VM
// (docs/performance.md). Signals stay race-free without a pidfd: Wait
// waits without reaping, then reaps under mu, and Signal sends only
// while the pid is not reaped, so it always names our child (a zombie at
// worst), never a process that reused its pid (TestChildSignalAfterWait).
type child struct {
	Pid    int
	mu     sync.Mutex
	reaped bool
}

// startChild starts exe with argv, env, dir and files (fd i of the child
// is files[i]) as os.StartProcess would; an error is a *os.PathError
// "fork/exec EXE", as os.StartProcess's.
func startChild(exe string, argv, env []string, dir string, files []*os.File, sys *syscall.SysProcAttr) (*child, error) {
	if env == nil {
		env = os.Environ()
	}
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	pid, err := syscall.ForkExec(exe, argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: fds, Sys: sys})
	runtime.KeepAlive(files)
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: exe, Err: err}
	}
	return &child{Pid: pid}, nil
}

// Wait blocks until the child has exited, reaps it and returns its wait
// status.
func (c *child) Wait() (syscall.WaitStatus, error) {
	var si unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.Pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return 0, os.NewSyscallError("waitid", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(c.Pid, &ws, 0, nil)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return 0, os.NewSyscallError("wait4", err)
		}
	}
	c.reaped = true
	return ws, nil
}

// Signal sends sig to the child unless it has been reaped (os.ErrProcessDone).
func (c *child) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return os.ErrProcessDone
	}
	return os.NewSyscallError("kill", syscall.Kill(c.Pid, sig))
}

// racePipe is os.Pipe without the runtime's poller: os.Pipe registers
// both ends with it (two fcntl and an epoll_ctl each, another epoll_ctl at
// close), for a pipe only ever read by the init and polled by awaitInit
// with poll(2).
func racePipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
