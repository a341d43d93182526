// Package tests holds ccci's end-to-end tests: testscript scripts under
// testdata/ that drive the real binary, through its ccci-* symlinks, against
// the real kernel (and, where apps are involved, the real swarm).
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"github.com/rogpeppe/go-internal/testscript"
)

// binDir holds the ccci binary built once for the whole package, and its
// ccci-* symlinks made by ccci --install.
var binDir string

func TestMain(m *testing.M) {
	// The test app on the host too: scripts' HTTP client (-get).
	testbed.Main(m, "tests", "..", &binDir, "ccci-test-app=./testdata/app")
}

// cmds are the custom testscript commands every script may use; files in
// this package add theirs in init.
var cmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"waitfile":  cmdWaitfile,
	"waitmatch": cmdWaitmatch,
	"pidgone":   cmdPidgone,
}

// params returns the testscript parameters for the scripts in testdata/dir.
func params(dir string) testscript.Params {
	return testscript.Params{
		Dir: filepath.Join("testdata", dir),
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", binDir+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("CCCI_LOCK_DIR", filepath.Join(e.WorkDir, "lock"))
			e.Setenv("CCCI_RUNS_DIR", filepath.Join(e.WorkDir, "runs"))
			e.Setenv("ABRA_DIR", filepath.Join(e.WorkDir, "abra"))
			e.Setenv("CCCI", filepath.Join(binDir, "ccci"))
			e.Setenv("NO_COLOR", "1")
			return os.MkdirAll(filepath.Join(e.WorkDir, "lock"), 0o755)
		},
		Cmds:                cmds,
		RequireExplicitExec: true,
	}
}

// deadline bounds every wait in a script: conditions, never bare sleeps.
const deadline = 30 * time.Second

// waitfile FILE... waits until each FILE exists (and, negated, until none does).
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: waitfile FILE...")
	}
	waitFor(ts, fmt.Sprintf("files %v to %s", args, map[bool]string{false: "appear", true: "vanish"}[neg]), func() bool {
		for _, f := range args {
			_, err := os.Stat(ts.MkAbs(f))
			if (err == nil) == neg {
				return false
			}
		}
		return true
	})
}

// waitmatch FILE REGEXP waits until FILE's content contains REGEXP.
func cmdWaitmatch(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitmatch FILE REGEXP")
	}
	re := mustRegexp(ts, args[1])
	waitFor(ts, fmt.Sprintf("%s to match %q", args[0], args[1]), func() bool {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		return re.Match(b) != neg
	})
}

// pidgone FILE waits until the process whose pid is in FILE no longer
// exists (zombies count as gone only once reaped by their parent).
func cmdPidgone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pidgone PIDFILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(bytes.Fields(b)[0])))
	ts.Check(err)
	waitFor(ts, fmt.Sprintf("pid %d to be gone", pid), func() bool {
		return (syscall.Kill(pid, 0) != nil) != neg
	})
}

func waitFor(ts *testscript.TestScript, what string, cond func() bool) {
	if !testbed.Poll(deadline, cond) {
		ts.Fatalf("timed out after %v waiting for %s", deadline, what)
	}
}

// reapAfter keeps the shared swarm clean when a script fails midway: once
// the script has ended (its processes gone), a janitor scoped to the
// script's own domains — those with uniq as a whole label part — reaps
// whatever is left, of every lock namespace (--adopt '*': the script's
// runs used lock dirs or backends of their own). After a passing script, which asserts nothing is left,
// it finds nothing. Without it, one failed script's apps would keep
// running beside every later test.
func reapAfter(e *testscript.Env, uniq string) {
	e.Defer(func() {
		tmp, err := os.MkdirTemp("", "ccci-reap-")
		if err != nil {
			return
		}
		defer os.RemoveAll(tmp)
		scope := `(^|\.)` + regexp.QuoteMeta(uniq) + `([.-]|$)`
		cmd := exec.Command(filepath.Join(binDir, "ccci-janitor"), "--scope", scope, "--min-age", "0", "--grace", "1s", "--adopt", "*")
		cmd.Env = append(os.Environ(), "CCCI_LOCK_DIR="+filepath.Join(tmp, "lock"),
			"CCCI_RUNS_DIR="+filepath.Join(tmp, "runs"), "ABRA_DIR="+e.Getenv("ABRA_DIR"), "NO_COLOR=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "tests: reaping after the script (%s): %v\n%s", uniq, err, out)
		}
	})
}
