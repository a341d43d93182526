package applet

import (
	"os"
	"syscall"
)

// Status is a shell's $? for a process that has finished: its exit code,
// or ExitSignal+N when signal N ended it. A nil ps (a process that never
// started) is ExitCannotRun.
func Status(ps *os.ProcessState) int {
	if ps == nil {
		return ExitCannotRun
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return WaitStatus(ws)
	}
	return ps.ExitCode()
}

// WaitStatus is Status for a wait(2) status, as syscall.Wait4 gives it.
func WaitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return SignalStatus(ws.Signal())
	}
	return ws.ExitStatus()
}

// SignalStatus is the status of a run ended by sig: ExitSignal+N.
func SignalStatus(sig syscall.Signal) int { return ExitSignal + int(sig) }
