package tests

// ccci-janitor end to end: real kernel flock, real swarm. Orphans are made
// directly (a labelled stack deployed through internal/swarm, an env file,
// no lock held), as a SIGKILLed run leaves them. The swarm is shared with
// other tests, so every script works on domains under its own $UNIQ and
// runs the janitor with --scope. The test bed comes up through
// .ci/testbed; a script FAILS if it cannot.

import (
	"context"
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/rogpeppe/go-internal/testscript"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/flock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	iswarm "git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// TestJanitor runs testdata/janitor.
func TestJanitor(t *testing.T) {
	p := params("janitor")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		// Short: a swarm name is at most 64 characters.
		u := fmt.Sprintf("j%d%c", os.Getpid()%100000, 'a'+rune(uniq.Add(1)%26))
		e.Setenv("UNIQ", u)
		reapAfter(e, u)
		recipes, err := filepath.Abs("testdata/recipes")
		e.Setenv("RECIPES", recipes)
		return err
	}
	testscript.Run(t, p)
}

var uniq atomic.Int64

func init() {
	cmds["orphan"] = cmdOrphan
	cmds["rawstack"] = cmdRawstack
	cmds["swarmhas"] = cmdSwarmhas
}

// bed brings the test bed up once per test binary, or fails the script.
func bed(ts *testscript.TestScript) {
	if err := testbed.Up(".."); err != nil {
		ts.Fatalf("%v", err)
	}
}

func apiClient(ts *testscript.TestScript) *client.Client {
	bed(ts)
	api, err := client.New(client.FromEnv)
	ts.Check(err)
	ts.Defer(func() { api.Close() })
	return api
}

// orphan [-lockdir DIR | -nons] DOMAIN RUN deploys the test recipe as
// DOMAIN, converged, with ccci's labels for RUN, and writes its env file
// under $ABRA_DIR/servers/default, taking no lock: what a run SIGKILLed
// after deploying leaves. Its lock namespace label is that of
// $CCCI_LOCK_DIR, or of -lockdir DIR (another namespace); -nons leaves
// it out, as a ccci that predates namespaces did. The script tears it
// down at its end whatever happened.
func cmdOrphan(ts *testscript.TestScript, neg bool, args []string) {
	lockDir := ts.Getenv("CCCI_LOCK_DIR")
	switch {
	case len(args) == 4 && args[0] == "-lockdir":
		lockDir, args = ts.MkAbs(args[1]), args[2:]
	case len(args) == 3 && args[0] == "-nons":
		lockDir, args = "", args[1:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: orphan [-lockdir DIR | -nons] DOMAIN RUN")
	}
	bed(ts)
	domain, run := args[0], args[1]
	dir, err := filepath.Abs(filepath.Join("testdata", "recipes", "ccci-test-app"))
	ts.Check(err)
	env, err := compose.ReadEnvFile(filepath.Join(dir, ".env.sample"), os.Getenv)
	ts.Check(err)
	env["DOMAIN"], env["STACK_NAME"] = domain, names.StackName(domain)
	p, err := compose.LoadConfig(dir, env, nil)
	ts.Check(err)
	app, err := iswarm.NewApp(domain, run, p)
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if lockDir != "" {
		app.LockNamespace, err = flock.New(lockDir).Namespace(ctx)
		ts.Check(err)
	}
	sc, err := iswarm.New(ctx, nil)
	ts.Check(err)
	ts.Defer(func() {
		sc.Teardown(context.Background(), app.Stack, iswarm.TeardownOptions{})
		sc.Close()
	})
	_, err = sc.CreateSecrets(ctx, app, testSecret)
	ts.Check(err)
	ts.Check(sc.Deploy(ctx, app))
	// Converged, as a run killed after deploying leaves it (a teardown
	// racing the swarm's own task start-up is the swarm package's matter).
	ts.Check(sc.Converge(ctx, app, func(string) {}))
	envDir := filepath.Join(ts.Getenv("ABRA_DIR"), "servers", "default")
	ts.Check(os.MkdirAll(envDir, 0o755))
	ts.Check(os.WriteFile(filepath.Join(envDir, domain+".env"), []byte("TYPE=ccci-test-app\nDOMAIN="+domain+"\n"), 0o644))
}

// rawstack STACK creates a service STACK_app with only docker's stack
// namespace label: a stack nothing proves is a ccci run's.
func cmdRawstack(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: rawstack STACK")
	}
	api := apiClient(ts)
	stack := args[0]
	replicas := uint64(0) // nothing to schedule: the object is what counts
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: stack + "_app", Labels: map[string]string{iswarm.LabelNamespace: stack}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "ccci-test-app:latest"}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
	}
	res, err := api.ServiceCreate(context.Background(), client.ServiceCreateOptions{Spec: spec})
	ts.Check(err)
	ts.Defer(func() { api.ServiceRemove(context.Background(), res.ID, client.ServiceRemoveOptions{}) })
}

// swarmhas STACK succeeds if the engine lists any service, container,
// network, volume, secret or config of STACK (namespace label or STACK_
// name), listed through this test's own client; negated, if none.
func cmdSwarmhas(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: swarmhas STACK")
	}
	api := apiClient(ts)
	ctx := context.Background()
	stack := args[0]
	var found []string
	mine := func(kind, name string, labels map[string]string) {
		name = strings.TrimPrefix(name, "/")
		if labels[iswarm.LabelNamespace] == stack || strings.HasPrefix(name, stack+"_") {
			found = append(found, kind+" "+name)
		}
	}
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{})
	ts.Check(err)
	for _, s := range svcs.Items {
		mine("service", s.Spec.Name, s.Spec.Labels)
	}
	ctrs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	ts.Check(err)
	for _, c := range ctrs.Items {
		mine("container", c.Labels["com.docker.swarm.service.name"]+"_task", c.Labels)
	}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	ts.Check(err)
	for _, n := range nets.Items {
		mine("network", n.Name, n.Labels)
	}
	vols, err := api.VolumeList(ctx, client.VolumeListOptions{})
	ts.Check(err)
	for _, v := range vols.Items {
		mine("volume", v.Name, v.Labels)
	}
	secs, err := api.SecretList(ctx, client.SecretListOptions{})
	ts.Check(err)
	for _, s := range secs.Items {
		mine("secret", s.Spec.Name, s.Spec.Labels)
	}
	cfgs, err := api.ConfigList(ctx, client.ConfigListOptions{})
	ts.Check(err)
	for _, c := range cfgs.Items {
		mine("config", c.Spec.Name, c.Spec.Labels)
	}
	switch {
	case neg && len(found) > 0:
		ts.Fatalf("stack %s still has: %s", stack, strings.Join(found, ", "))
	case !neg && len(found) == 0:
		ts.Fatalf("stack %s has nothing on the swarm", stack)
	}
	ts.Logf("stack %s: %s", stack, strings.Join(found, ", "))
}
