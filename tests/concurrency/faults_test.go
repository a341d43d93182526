package concurrency

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tmpfs mounts a tmpfs of size at dir (root only: the suite runs as root)
// and unmounts it when the test ends.
func tmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v (the suite needs root)", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// TestFullLockDir: the lock dir on a full filesystem. A run of a domain
// whose lockfile cannot be written fails with a clear error and never runs
// its command unlocked; a domain whose lockfile exists still serializes
// (the record is rewritten in place); the janitor still checks; once
// space is back, everything works again.
func TestFullLockDir(t *testing.T) {
	u := uniq("f")
	b := newBed(t, "^"+u+"-")
	tmpfs(t, b.lockDir, "64k")
	old, fresh := u+"-1.ci.test", u+"-2.ci.test"
	if st, out := b.run(nil, "ccci-lock", old, "--", "true"); st != 0 {
		t.Fatalf("ccci-lock before the disk filled: %d %s", st, out)
	}
	// Fill it: dd stops at ENOSPC.
	fill := filepath.Join(b.lockDir, "fill")
	b.run(nil, "dd", "if=/dev/zero", "of="+fill, "bs=4k")
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(b.lockDir, &sfs); err != nil || sfs.Bavail != 0 {
		t.Fatalf("lock dir not full: %d blocks free (%v)", sfs.Bavail, err)
	}

	ran := filepath.Join(b.dir, "ran")
	st, out := b.run(nil, "ccci-lock", fresh, "--", "touch", ran)
	// 1, not 2: a full disk is an operational failure, not invalid input.
	if st != 1 || !strings.Contains(out, "no space left on device") || !strings.Contains(out, "cc-ci-app-"+fresh+".lock") {
		t.Errorf("new lockfile on a full disk: exit %d, want a clear error naming the file:\n%s", st, out)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("the command ran although the lock could not be taken")
	}
	t.Logf("full disk, new lockfile: exit %d: %s", st, strings.TrimSpace(out))
	// An existing lockfile: the record fits in place, and it still excludes.
	if st, out := b.run(nil, "ccci-lock", old, "--", "sh", "-c", "ccci-lock -n $CCCI_LOCK_DOMAIN -- true; echo nested=$?"); st != 0 || !strings.Contains(out, "nested=1") {
		t.Errorf("existing lockfile on a full disk: exit %d, want 0 and a refused nested -n:\n%s", st, out)
	}
	b.clean("full lock dir")
	os.Remove(fill)
	if st, out := b.run(nil, "ccci-lock", fresh, "--", "touch", ran); st != 0 {
		t.Fatalf("after freeing space: %d %s", st, out)
	}
}

// TestReadOnlyRunsDir: the runs dir turns read-only (a remounted tmpfs;
// root ignores modes). The counter refuses to change, with a clear error,
// and keeps its value; ccci-deploy fails before taking the lock or
// deploying anything; the janitor cannot remove the dead run, says so
// (exit 1), and --check keeps listing it until it can.
func TestReadOnlyRunsDir(t *testing.T) {
	testbed(t)
	u := uniq("r")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	tmpfs(t, b.runsDir, "1m")
	run := []string{"CCCI_RUN_ID=" + u}
	if st, out := b.run(run, "ccci-runstate", "init"); st != 0 {
		t.Fatalf("init: %d %s", st, out)
	}
	if st, out := b.run(run, "ccci-runstate", "incr", "deploy-count"); st != 0 {
		t.Fatalf("incr: %d %s", st, out)
	}
	if err := syscall.Mount("", b.runsDir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	st, out := b.run(run, "ccci-runstate", "incr", "deploy-count")
	if st == 0 || !strings.Contains(out, "read-only file system") {
		t.Errorf("incr on a read-only runs dir: exit %d, want a clear error:\n%s", st, out)
	}
	if st, out := b.run(run, "ccci-runstate", "get", "deploy-count"); st != 0 || strings.TrimSpace(out) != "1" {
		t.Errorf("the counter after a refused incr: exit %d %q, want 1", st, out)
	}
	domain := u + "-1.ci.test"
	st, out = b.run(run, "ccci-deploy", "--recipe", b.recipe, domain, "--", "touch", filepath.Join(b.dir, "ran"))
	if st != 1 || !strings.Contains(out, "read-only file system") || strings.Contains(out, "== deploy:") {
		t.Errorf("ccci-deploy with a read-only runs dir: exit %d, want 1 before deploying:\n%s", st, out)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "ran")); err == nil {
		t.Error("the test command ran")
	}
	b.nothingLeft(domain)
	// The run is dead (--min-age 0) but cannot be removed: reported, not hidden.
	if st, out := b.janitor(); st != 1 || !strings.Contains(out, "rundir") {
		t.Errorf("janitor pass on a read-only runs dir: exit %d, want 1 naming the run dir:\n%s", st, out)
	}
	if st, out := b.janitor("--check"); st != 1 || !strings.Contains(out, "leak rundir "+filepath.Join(b.runsDir, u)) {
		t.Errorf("--check on a read-only runs dir: exit %d, want the run dir listed:\n%s", st, out)
	}
	if err := syscall.Mount("", b.runsDir, "", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	if st, out := b.janitor(); st != 0 {
		t.Errorf("janitor pass once writable: %d %s", st, out)
	}
	b.clean("runs dir writable again")
}

// proxy is a unix socket forwarding to the docker socket, which the test
// can close (refusing new connections and cutting open ones) and reopen:
// the shared dockerd is never stopped.
type proxy struct {
	path, target string
	mu           sync.Mutex
	down         bool
	conns        map[net.Conn]bool
}

func newProxy(t *testing.T, dir string) *proxy {
	t.Helper()
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	p := &proxy{path: filepath.Join(dir, "docker.sock"), target: target, conns: map[net.Conn]bool{}}
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c] = true
	p.mu.Unlock()
	d, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	go func() { io.Copy(d, c); d.Close() }()
	io.Copy(c, d)
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// TestDockerUnreachable: the docker socket (a proxy the test controls)
// closes. At the start, ccci-deploy fails clearly before taking the lock
// and ccci-janitor --check refuses to claim "no leaks". During the
// teardown, ccci-deploy says the teardown failed (exit 1), keeps the env
// file and releases the lock; once the socket is back, --check lists what
// is left and one janitor pass reaps it all.
func TestDockerUnreachable(t *testing.T) {
	testbed(t)
	t.Parallel()
	u := uniq("p")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	px := newProxy(t, b.dir)
	b.extra = []string{"DOCKER_HOST=unix://" + px.path}
	domain := u + "-1.ci.test"
	envFile := filepath.Join(b.abraDir, "servers", "default", domain+".env")

	px.setDown(true)
	st, out := b.run([]string{"CCCI_RUN_ID=" + u + "a"}, "ccci-deploy", "--recipe", b.recipe, domain, "--", "true")
	if st != 1 || !strings.Contains(out, "docker") || strings.Contains(out, "acquired") {
		t.Errorf("deploy with docker down: exit %d, want 1 before the lock:\n%s", st, out)
	}
	if st, out := b.janitor("--check"); st != 1 || !strings.Contains(out, "cannot prove zero leaks") || strings.Contains(out, "no leaks") {
		t.Errorf("--check with docker down: exit %d, want 1 and no claim of zero leaks:\n%s", st, out)
	}
	px.setDown(false)

	// Down during the teardown: the test command closes the socket and
	// waits for the proxy to confirm.
	c, errb, ack := b.heldDeploy(u+"b", domain, "down", 1200)
	px.setDown(true)
	ack()
	st = waitCmd(t, c, 4*time.Minute)
	out = errb.String()
	if st != 1 || !strings.Contains(out, "teardown") || strings.Contains(out, "== teardown: "+domain+" complete") {
		t.Errorf("deploy with docker down at teardown: exit %d, want 1 and a failed teardown:\n%s", st, out)
	}
	if _, err := os.Stat(envFile); err != nil {
		t.Errorf("the env file went although the app was not removed: %v", err)
	}
	t.Logf("teardown with docker down: %s", lastLines(out, 3))
	px.setDown(false)
	if !b.lockFree(domain, 5*time.Second) {
		t.Fatal("the lock is still held")
	}
	if st, out := b.janitor("--check"); st != 1 || !strings.Contains(out, "leak service") || !strings.Contains(out, "leak envfile") {
		t.Errorf("--check after the failed teardown: exit %d, want the app listed:\n%s", st, out)
	}
	if st, out := b.janitor(); st != 0 {
		t.Errorf("janitor pass: %d %s", st, out)
	}
	b.nothingLeft(domain)
	for _, r := range []string{u + "a", u + "b"} {
		b.run(nil, "ccci-runstate", "--run", r, "rm", "--force")
	}
	b.clean("after the reap")
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], " | ")
}
