package tests

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// TestLifetime: ccci-lock's run lifetime end to end (internal/lifetime):
// signals, parent death and SIGKILL against the real kernel.
func TestLifetime(t *testing.T) { testscript.Run(t, params("lifetime")) }

// TestLifetimeGoInit runs the same scripts with ccci itself as the PID-1
// init (CCCI_GO_INIT=1), the init other architectures and the fallback use,
// instead of the tiny C init of linux/amd64.
func TestLifetimeGoInit(t *testing.T) {
	p := params("lifetime")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		e.Setenv("CCCI_GO_INIT", "1")
		return setup(e)
	}
	testscript.Run(t, p)
}

func init() {
	cmds["lt-sig"] = cmdLtSig
	cmds["lt-exited"] = cmdLtExited
}

// lt-sig NAME PIDFILE sends signal NAME (TERM, KILL, QUIT, ...) to that pid.
func cmdLtSig(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: lt-sig NAME PIDFILE")
	}
	s := unix.SignalNum("SIG" + args[0])
	if s == 0 {
		ts.Fatalf("lt-sig: unknown signal %s", args[0])
	}
	ts.Check(syscall.Kill(ltPid(ts, args[1]), s))
}

// lt-exited PIDFILE waits until that process has exited: gone, or a zombie
// (an orphan's reaper is the machine's init, whose reaping we cannot wait on).
func cmdLtExited(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: lt-exited PIDFILE")
	}
	pid := ltPid(ts, args[0])
	waitFor(ts, fmt.Sprintf("pid %d to exit", pid), func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		i := bytes.LastIndexByte(b, ')')
		return i >= 0 && len(b) > i+2 && b[i+2] == 'Z'
	})
}

func ltPid(ts *testscript.TestScript, file string) int {
	b, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	return pid
}
