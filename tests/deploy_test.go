package tests

// End-to-end tests of ccci-deploy on the real swarm (testdata/deploy): the
// real binary, the real lock, the abra stand-in (testdata/abra/abra), and
// leftovers checked through this file's own Engine API client, not
// internal/swarm's Inventory. They bring the test bed up with .ci/testbed
// and FAIL, never skip, when it cannot.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/moby/moby/client"
	"github.com/rogpeppe/go-internal/testscript"
)

var (
	deployBedOnce sync.Once
	deployBedErr  error
	deploySeq     atomic.Int64
)

// bringUpDeployBed runs .ci/testbed once for the package's swarm tests.
func bringUpDeployBed() {
	out, err := exec.Command("../.ci/testbed", "up").CombinedOutput()
	if err != nil {
		log, _ := exec.Command("../.ci/testbed", "log").CombinedOutput()
		deployBedErr = fmt.Errorf(".ci/testbed up: %v\n%s\n%s", err, out, log)
	}
}

// TestDeploy runs testdata/deploy. Each script gets $UNIQ (unique per
// script and test binary, so domains never meet a leftover of another
// run), $RECIPES (the test recipes) and $ABRA_STANDIN (the stand-in's dir).
func TestDeploy(t *testing.T) {
	deployBedOnce.Do(bringUpDeployBed)
	if deployBedErr != nil {
		t.Fatal(deployBedErr)
	}
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
		left, err := stackObjects(d)
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

// stackObjects lists "kind name" of every engine object of domain's stack.
func stackObjects(domain string) ([]string, error) {
	ctx := context.Background()
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	defer api.Close()
	stack := strings.ReplaceAll(domain, ".", "_")
	var left []string
	mine := func(kind, name string, labels map[string]string) {
		name = strings.TrimPrefix(name, "/")
		if labels["com.docker.stack.namespace"] == stack || labels["ccci.domain"] == domain ||
			strings.HasPrefix(name, stack+"_") || strings.HasPrefix(labels["com.docker.swarm.service.name"], stack+"_") {
			left = append(left, kind+" "+name)
		}
	}
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range svcs.Items {
		mine("service", s.Spec.Name, s.Spec.Labels)
	}
	ctrs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, err
	}
	for _, c := range ctrs.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		mine("container", name, c.Labels)
	}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, err
	}
	for _, n := range nets.Items {
		mine("network", n.Name, n.Labels)
	}
	vols, err := api.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return nil, err
	}
	for _, v := range vols.Items {
		mine("volume", v.Name, v.Labels)
	}
	secs, err := api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range secs.Items {
		mine("secret", s.Spec.Name, s.Spec.Labels)
	}
	cfgs, err := api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range cfgs.Items {
		mine("config", c.Spec.Name, c.Spec.Labels)
	}
	sort.Strings(left)
	return left, nil
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
