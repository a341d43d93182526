package tests

// Real-swarm tests of internal/swarm: deploy a test recipe, converge, check
// through the Engine API (this file's own client, not the package's
// Inventory) that everything exists with ccci's labels, tear down, check
// nothing is left. They bring the test bed up with .ci/testbed and FAIL,
// never skip, when it cannot.

import (
	"context"
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// deployed is one app deployed by a test, with the test's own API client.
type deployed struct {
	app *swarm.App
	sc  *swarm.Client
	api *client.Client
}

// deploy loads recipe for a unique domain and deploys it (secrets first).
func deploy(t *testing.T, recipe string) *deployed {
	t.Helper()
	testbed.Need(t, "..")
	ctx := context.Background()
	// Short: swarm names are at most 64 characters, and the secret's is
	// <stack>_db_password_v1. Not under .ci.: the janitor's default
	// run-domain pattern must not make these in-flight apps candidates
	// (janitor tests running at the same time must scope themselves too).
	run := fmt.Sprintf("t%d-%d", os.Getpid()%1e5, time.Now().UnixNano()%1e6)
	domain := run + ".swarm.test"
	dir := filepath.Join("testdata", "recipes", recipe)
	env, err := compose.ReadEnvFile(filepath.Join(dir, ".env.sample"), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	env["DOMAIN"], env["STACK_NAME"] = domain, strings.ReplaceAll(domain, ".", "_")
	p, err := compose.LoadConfig(dir, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := swarm.NewApp(domain, run, p)
	if err != nil {
		t.Fatal(err)
	}
	app.LockNamespace = "file:test:/" + run
	sc, err := swarm.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := client.New()
	if err != nil {
		t.Fatal(err)
	}
	d := &deployed{app, sc, api}
	t.Cleanup(func() {
		// A failed test must not leak: tear down again (a no-op when done).
		d.sc.Teardown(context.Background(), app.Stack, swarm.TeardownOptions{})
		sc.Close()
		api.Close()
	})
	if _, err := sc.CreateSecrets(ctx, app, testSecret); err != nil {
		t.Fatal(err)
	}
	if err := sc.Deploy(ctx, app); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *deployed) converge(t *testing.T, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := d.sc.Converge(ctx, d.app, func(s string) { t.Log("converge:", s) })
	t.Logf("converge took %v (err=%v)", time.Since(start).Round(time.Millisecond), err)
	return err
}

func (d *deployed) teardown(t *testing.T) swarm.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := d.sc.Teardown(ctx, d.app.Stack, swarm.TeardownOptions{})
	t.Logf("teardown took %v: %d removed, %d retries", rep.Took.Round(time.Millisecond), len(rep.Removed), rep.Retries)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// objects lists, through the test's own client, every object labelled with
// the app's run or named after its stack: "kind name" → labels.
func (d *deployed) objects(t *testing.T) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[string]string{}
	mine := func(kind, name string, labels map[string]string) {
		if labels[swarm.LabelRun] == d.app.RunID || strings.HasPrefix(strings.TrimPrefix(name, "/"), d.app.Stack+"_") {
			out[kind+" "+strings.TrimPrefix(name, "/")] = labels
		}
	}
	svcs, err := d.api.ServiceList(ctx, client.ServiceListOptions{})
	check(t, err)
	for _, s := range svcs.Items {
		mine("service", s.Spec.Name, s.Spec.Labels)
	}
	ctrs, err := d.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	check(t, err)
	for _, c := range ctrs.Items {
		mine("container", c.Labels["com.docker.swarm.service.name"]+"_task", c.Labels)
	}
	nets, err := d.api.NetworkList(ctx, client.NetworkListOptions{})
	check(t, err)
	for _, n := range nets.Items {
		mine("network", n.Name, n.Labels)
	}
	vols, err := d.api.VolumeList(ctx, client.VolumeListOptions{})
	check(t, err)
	for _, v := range vols.Items {
		mine("volume", v.Name, v.Labels)
	}
	secs, err := d.api.SecretList(ctx, client.SecretListOptions{})
	check(t, err)
	for _, s := range secs.Items {
		mine("secret", s.Spec.Name, s.Spec.Labels)
	}
	cfgs, err := d.api.ConfigList(ctx, client.ConfigListOptions{})
	check(t, err)
	for _, c := range cfgs.Items {
		mine("config", c.Spec.Name, c.Spec.Labels)
	}
	return out
}

// nothingLeft fails the test when any object of the app remains.
func (d *deployed) nothingLeft(t *testing.T) {
	t.Helper()
	if left := d.objects(t); len(left) > 0 {
		t.Errorf("left after teardown: %v", keys(left))
	}
}

func TestSwarmDeployTeardown(t *testing.T) {
	d := deploy(t, "ccci-test-app")
	if err := d.converge(t, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	s := d.app.Stack
	objs := d.objects(t)
	for _, want := range []string{
		"service " + s + "_app", "container " + s + "_app_task", "network " + s + "_internal",
		"volume " + s + "_data", "secret " + s + "_db_password_v1", "config " + s + "_app_conf_v1",
	} {
		l, ok := objs[want]
		if !ok {
			t.Errorf("%s: missing; have %v", want, keys(objs))
			continue
		}
		if l[swarm.LabelRun] != d.app.RunID || l[swarm.LabelDomain] != d.app.Domain || l[swarm.LabelNamespace] != s {
			t.Errorf("%s: labels %v lack ccci.run=%s, ccci.domain=%s, namespace=%s", want, l, d.app.RunID, d.app.Domain, s)
		}
		if l[swarm.LabelLockNamespace] != d.app.LockNamespace {
			t.Errorf("%s: labels %v lack %s=%s", want, l, swarm.LabelLockNamespace, d.app.LockNamespace)
		}
	}
	if got := objs["service "+s+"_app"]["traefik.enable"]; got != "true" {
		t.Errorf("service labels lack the recipe's deploy labels: traefik.enable=%q", got)
	}
	d.teardown(t)
	d.nothingLeft(t)
}

func TestSwarmCrashLoop(t *testing.T) {
	d := deploy(t, "ccci-crashloop")
	// Well under the timeout: the crash loop is noticed after a few tasks.
	err := d.converge(t, 3*time.Minute)
	if err == nil {
		t.Fatal("converge of a crash-looping app succeeded")
	}
	for _, want := range []string{"service app", "non-zero exit (1)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("converge error %q does not name %q", err, want)
		}
	}
	d.teardown(t)
	d.nothingLeft(t)
}

func TestSwarmIgnoreTerm(t *testing.T) {
	d := deploy(t, "ccci-ignoreterm")
	if err := d.converge(t, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	d.teardown(t)
	d.nothingLeft(t)
}

// A volume still used for a moment by a container outside the stack (a
// backup, a debugging shell): teardown retries and removes it.
func TestSwarmVolumeInUse(t *testing.T) {
	d := deploy(t, "ccci-test-app")
	if err := d.converge(t, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vol := d.app.Stack + "_data"
	cr, err := d.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: "ccci-test-app:latest", Env: []string{"EXIT_AFTER=4s"}},
		HostConfig: &container.HostConfig{AutoRemove: true, Mounts: []mount.Mount{
			{Type: mount.TypeVolume, Source: vol, Target: "/data"},
		}},
	})
	check(t, err)
	t.Cleanup(func() {
		d.api.ContainerRemove(context.Background(), cr.ID, client.ContainerRemoveOptions{Force: true})
	})
	_, err = d.api.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{})
	check(t, err)
	rep := d.teardown(t)
	if rep.Retries == 0 {
		t.Errorf("teardown removed volume %s without retrying: was the container not using it?", vol)
	}
	removed := false
	for _, r := range rep.Removed {
		removed = removed || r.Kind == "volume" && r.Name == vol
	}
	if !removed {
		t.Errorf("report does not list volume %s as removed: %v", vol, rep.Removed)
	}
	d.nothingLeft(t)
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func keys[V any](m map[string]V) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	return l
}

// testSecret is the value of every secret the tests' apps create.
func testSecret(key string) ([]byte, error) { return []byte("secret-" + key), nil }
