package tests

// End-to-end tests of ccci-deploy on the real swarm (testdata/deploy): the
// real binary, the real lock, the abra stand-in (testdata/abra/abra), and
// leftovers checked through this file's own Engine API client, not
// internal/swarm's Inventory. They bring the test bed up with .ci/testbed
// and FAIL, never skip, when it cannot.

import (
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var (
	deploySeq atomic.Int64
)

// TestDeploy runs testdata/deploy. Each script gets $UNIQ (unique per
// script and test binary, so domains never meet a leftover of another
// run), $RECIPES (the test recipes), $ABRA_STANDIN (the stand-in's dir)
// and $PORT, a port free on the node for a host-mode published port (a
// fixed one would collide with a concurrent `go test` of another tree).
func TestDeploy(t *testing.T) {
	testbed.Need(t, "..")
	recipes, err := filepath.Abs("testdata/recipes")
	if err != nil {
		t.Fatal(err)
	}
	standin, err := filepath.Abs("testdata/abra")
	if err != nil {
		t.Fatal(err)
	}
	p := params("deploy")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		uniq := fmt.Sprintf("d%d-%d", os.Getpid()%100000, deploySeq.Add(1))
		e.Setenv("UNIQ", uniq)
		reapAfter(e, uniq)
		e.Setenv("RECIPES", recipes)
		e.Setenv("ABRA_STANDIN", standin)
		port, err := testbed.FreePorts(1)
		if err != nil {
			return err
		}
		e.Setenv("PORT", strconv.Itoa(port))
		return nil
	}
	testscript.Run(t, p)
}

func init() {
	cmds["nothingleft"] = cmdNothingleft
	cmds["termpid"] = cmdTermpid
}

// nothingleft DOMAIN... fails if the engine still holds any service,
// container, network, volume, secret or config of DOMAIN's stack: labelled
// with its namespace or ccci.domain, or named <stack>_. Negated, it fails
// if there is none (the app is deployed).
func cmdNothingleft(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: nothingleft DOMAIN...")
	}
	for _, d := range args {
		left, err := testbed.StackObjects(d)
		ts.Check(err)
		switch {
		case !neg && len(left) > 0:
			ts.Fatalf("%s: left on the swarm: %s", d, strings.Join(left, ", "))
		case neg && len(left) == 0:
			ts.Fatalf("%s: nothing on the swarm", d)
		}
		ts.Logf("%s: %d objects on the swarm", d, len(left))
	}
}

// termpid PIDFILE sends SIGTERM to the pid in PIDFILE, which must exist.
func cmdTermpid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: termpid PIDFILE")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	ts.Check(err)
	ts.Check(syscall.Kill(pid, syscall.SIGTERM))
}
