package etcdlock

import (
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cluster is a real 3-member etcd cluster started by .ci/etcd-cluster.
type cluster struct {
	env       []string // CCCI_ETCD_CLUSTER_DIR, CCCI_ETCD_PORT_BASE
	endpoints string
}

var script = filepath.Join("..", "..", ".ci", "etcd-cluster")

// startCluster starts a cluster on free ports; a test that cannot start
// it fails, never skips.
func startCluster(dir string) (*cluster, error) {
	base, err := testbed.FreePorts(6) // three members, client and peer port each
	if err != nil {
		return nil, err
	}
	c := &cluster{env: []string{"CCCI_ETCD_CLUSTER_DIR=" + dir, fmt.Sprintf("CCCI_ETCD_PORT_BASE=%d", base)}}
	out, err := c.run("start")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "CCCI_ETCD_ENDPOINTS="); ok {
			c.endpoints = v
		}
	}
	if c.endpoints == "" {
		return nil, fmt.Errorf(".ci/etcd-cluster start printed no CCCI_ETCD_ENDPOINTS: %q", out)
	}
	return c, nil
}

func (c *cluster) run(args ...string) (string, error) {
	cmd := exec.Command(script, args...)
	cmd.Env = append(os.Environ(), c.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf(".ci/etcd-cluster %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

var (
	shared     *cluster
	sharedErr  error
	sharedOnce sync.Once
	sharedDir  string
)

// sharedCluster is one cluster for every test that does not hurt it; tests
// keep apart by key prefix.
func sharedCluster(t *testing.T) *cluster {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "ccci-etcdlock-shared-")
		if sharedErr == nil {
			shared, sharedErr = startCluster(sharedDir)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// ownCluster is a cluster for one test that kills members.
func ownCluster(t *testing.T) *cluster {
	t.Helper()
	c, err := startCluster(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.run("stop") })
	return c
}

func TestMain(m *testing.M) {
	status := m.Run()
	if shared != nil {
		shared.run("stop")
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(status)
}
