package concurrency

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tb "git.coopcloud.tech/toolshed/ccci/tests/testbed"
)

// TestDockerdRestart restarts the docker daemon while a deploy's test
// command runs: dockerd is stopped uncleanly (SIGKILL, as a crash or an
// OOM kill would), and .ci/testbed brings it back (it clears the stale pid
// file; the swarm comes back by itself). The run must end with a clear
// status, lose no state (deploy-count = 1 stays readable), leave nothing
// of the app that --check does not report, and nothing a janitor pass does
// not reap: --check is clean after one pass. Every other test binary
// sharing the daemon would fail meanwhile, so the test first waits until
// it is alone on dockerd (testbed.Alone): under `make test` it runs after
// tests/ has ended.
func TestDockerdRestart(t *testing.T) {
	testbed(t)
	tb.Alone(t, 30*time.Minute)
	u := uniq("r")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	domain := u + "-1.ci.test"
	run := u + "a"
	c, errb, ack := b.heldDeploy(run, domain, "restart", 2400)

	pid := dockerdPid(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill dockerd %d: %v", pid, err)
	}
	waitFor(t, deadline, "dockerd to die", func() bool { return syscall.Kill(pid, 0) != nil })
	if out, err := exec.Command("../../.ci/testbed", "up").CombinedOutput(); err != nil {
		log, _ := exec.Command("../../.ci/testbed", "log").CombinedOutput()
		t.Fatalf(".ci/testbed up after the kill: %v\n%s\n%s", err, out, log)
	}
	ack()

	st := waitCmd(t, c, 5*time.Minute)
	out := errb.String()
	t.Logf("deploy across a dockerd restart: exit %d: %s", st, lastLines(out, 4))
	if st != 0 && st != 1 {
		t.Errorf("exit %d, want 0 (teardown after the daemon came back) or 1 (a reported failure):\n%s", st, out)
	}
	if st == 1 && !strings.Contains(out, "ccci-deploy: ") {
		t.Errorf("exit 1 without a reason:\n%s", out)
	}
	if !strings.Contains(out, "deploy-count = 1") {
		t.Errorf("deploy-count lost:\n%s", out)
	}
	if !b.lockFree(domain, 5*time.Second) {
		t.Fatal("the lock is still held")
	}
	// Whatever the restart left (tasks the swarm rescheduled, an app whose
	// teardown failed) is listed by --check until one pass reaps it: no
	// half-removed app goes unreported.
	left, err := stackObjects(domain)
	if err != nil {
		t.Fatal(err)
	}
	_, envErr := os.Stat(filepath.Join(b.abraDir, "servers", "default", domain+".env"))
	chk, chkOut := b.janitor("--check")
	t.Logf("before the janitor pass: %d engine objects left, env file left: %v; --check exit %d: %s", len(left), envErr == nil, chk, lastLines(chkOut, 6))
	if (len(left) > 0 || envErr == nil) && (chk != 1 || !strings.Contains(chkOut, domain)) {
		t.Errorf("left %v (env file: %v) but --check exit %d does not name %s:\n%s", left, envErr == nil, chk, domain, chkOut)
	}
	if st, out := b.janitor(); st != 0 {
		t.Errorf("janitor pass: %d %s", st, out)
	}
	b.nothingLeft(domain)
	b.run(nil, "ccci-runstate", "--run", run, "rm", "--force")
	b.clean("after the restart and one janitor pass")
}

// dockerdPid is the running daemon's pid, from its pid file.
func dockerdPid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/var/run/docker.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("/var/run/docker.pid: %v", err)
	}
	return pid
}
