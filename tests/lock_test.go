package tests

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestLock runs testdata/lock: ccci-lock against the real kernel flock.
func TestLock(t *testing.T) { testscript.Run(t, params("lock")) }

func init() {
	cmds["exitcode"] = cmdExitcode
	cmds["killpid"] = cmdKillpid
}

// exitcode N PROG [ARG...] runs PROG and fails unless it exits with status
// N; its stdout and stderr are then checked as after exec.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// killpid [-KILL] PIDFILE sends a signal (SIGTERM by default) to the pid in
// PIDFILE; a process already gone is fine (cleanup).
func cmdKillpid(ts *testscript.TestScript, neg bool, args []string) {
	sig := syscall.SIGTERM
	if len(args) == 2 && args[0] == "-KILL" {
		sig, args = syscall.SIGKILL, args[1:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: killpid [-KILL] PIDFILE")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	ts.Check(err)
	if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
		ts.Fatalf("kill %d: %v", pid, err)
	}
}
