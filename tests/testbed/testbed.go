// Package testbed is what the end-to-end tests (tests/ and
// tests/concurrency) share about the real test bed: bringing dockerd, the
// one-node swarm and the test image up through .ci/testbed, once per test
// binary — a test that needs them fails, never skips, when they cannot come
// up — and listing a domain's engine objects through the Engine API
// directly, never through the code under test.
package testbed

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

var (
	once sync.Once
	err  error
)

// Up runs `.ci/testbed up` once per test binary (root is the repository's
// root, relative to the test's package directory) and returns its failure,
// with the tail of dockerd's log, to every caller.
func Up(root string) error {
	once.Do(func() {
		script := filepath.Join(root, ".ci", "testbed")
		out, e := exec.Command(script, "up").CombinedOutput()
		if e != nil {
			log, _ := exec.Command(script, "log").CombinedOutput()
			err = fmt.Errorf(".ci/testbed up: %v\n%s\n%s", e, out, log)
		}
	})
	return err
}

// Need is Up for a test: it fails t when the test bed cannot come up.
func Need(t testing.TB, root string) {
	t.Helper()
	if err := Up(root); err != nil {
		t.Fatal(err)
	}
}

// StackObjects lists "kind name" of every engine object of domain's stack.
func StackObjects(domain string) ([]string, error) {
	ctx := context.Background()
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	defer api.Close()
	stack := names.StackName(domain)
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
