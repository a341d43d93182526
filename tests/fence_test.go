package tests

import (
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestFence runs testdata/fence: ccci-deploy on the etcd backend against
// the real swarm, where a holder that lost its lease must not touch the app
// its successor redeployed (fencing). Each script gets its own etcd cluster
// and the shared test bed; either missing fails the test.
func TestFence(t *testing.T) {
	testbed.Need(t, "..")
	recipes, err := filepath.Abs("testdata/recipes")
	if err != nil {
		t.Fatal(err)
	}
	p := params("fence")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		uniq := fmt.Sprintf("f%d-%d", os.Getpid()%100000, deploySeq.Add(1))
		e.Setenv("UNIQ", uniq)
		reapAfter(e, uniq)
		e.Setenv("RECIPES", recipes)
		return startEtcd(e)
	}
	testscript.Run(t, p)
}
