package tests

import (
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestEtcd runs testdata/etcd: ccci-lock on the etcd backend, each script
// against a real 3-member cluster of its own started by .ci/etcd-cluster
// (a script that cannot get one fails, never skips). Scripts stand for
// hosts by giving each ccci-lock its own CCCI_LOCK_DIR, so no file lock
// can serialize them: only etcd does.
func TestEtcd(t *testing.T) {
	p := params("etcd")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		return startEtcd(e)
	}
	testscript.Run(t, p)
}

func init() {
	cmds["signal"] = cmdSignal
	cmds["waited"] = cmdWaited
}

func startEtcd(e *testscript.Env) error {
	endpoints, env, stop, err := etcdCluster(filepath.Join(e.WorkDir, ".etcd"))
	if err != nil {
		return err
	}
	e.Defer(stop)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		e.Setenv(k, v)
	}
	e.Setenv("ETCD_CLUSTER", etcdScript)
	e.Setenv("CCCI_LOCK_BACKEND", "etcd")
	e.Setenv("CCCI_ETCD_ENDPOINTS", endpoints)
	return nil
}

var etcdScript, _ = filepath.Abs(filepath.Join("..", ".ci", "etcd-cluster"))

// etcdCluster starts a 3-member cluster on free loopback ports with its
// data under dir, and returns its client URLs (comma-separated), the
// environment .ci/etcd-cluster needs to act on it, and how to stop it.
func etcdCluster(dir string) (endpoints string, env []string, stop func(), err error) {
	base, err := testbed.FreePorts(6) // three members, client and peer port each
	if err != nil {
		return "", nil, nil, err
	}
	env = []string{"CCCI_ETCD_CLUSTER_DIR=" + dir, "CCCI_ETCD_PORT_BASE=" + strconv.Itoa(base)}
	cmd := exec.Command(etcdScript, "start")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	stop = func() {
		s := exec.Command(etcdScript, "stop")
		s.Env = cmd.Env
		s.Run()
	}
	if err != nil {
		stop()
		return "", nil, nil, fmt.Errorf(".ci/etcd-cluster start: %v\n%s", err, stderr.String())
	}
	endpoints, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "CCCI_ETCD_ENDPOINTS=")
	if !ok {
		stop()
		return "", nil, nil, fmt.Errorf(".ci/etcd-cluster start printed %q", out)
	}
	return endpoints, env, stop, nil
}

// signal STOP|CONT|KILL|TERM PIDFILE sends the signal to the pid in PIDFILE.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	sigs := map[string]syscall.Signal{"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT, "KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM}
	if neg || len(args) != 2 || sigs[args[0]] == 0 {
		ts.Fatalf("usage: signal STOP|CONT|KILL|TERM PIDFILE")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[1])))
	ts.Check(err)
	ts.Check(syscall.Kill(pid, sigs[args[0]]))
}

var acquiredRe = regexp.MustCompile(`acquired \(waited ([^)]+)\)`)

// waited FILE MAX fails unless FILE's "acquired (waited D)" line has D <= MAX.
func cmdWaited(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waited FILE MAX")
	}
	max, err := time.ParseDuration(args[1])
	ts.Check(err)
	m := acquiredRe.FindStringSubmatch(ts.ReadFile(args[0]))
	if m == nil {
		ts.Fatalf("%s has no acquired line", args[0])
	}
	d, err := time.ParseDuration(m[1])
	ts.Check(err)
	ts.Logf("waited %v (at most %v)", d, max)
	if d > max {
		ts.Fatalf("waited %v, more than %v", d, max)
	}
}
