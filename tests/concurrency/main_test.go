// Package concurrency is ccci's concurrency and chaos suite: real processes
// of the real binary contending for one domain, SIGKILLed at random moments,
// signalled during teardown, starved of disk, of a writable state dir and of
// the docker socket, on the real kernel and the real swarm. docs/
// concurrency.md says which guarantee each test proves.
//
// Every test works in its own lock, runs and abra dirs, on domains unique to
// this test binary (the swarm is shared with other packages' tests), and
// every ccci-janitor call passes --scope. Randomness is seeded: the seed is
// logged, and -seed N or CCCI_SEED=N replays it. CCCI_SOAK=1 adds the soak.
package concurrency

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tb "git.coopcloud.tech/toolshed/ccci/tests/testbed"
)

// binDir holds the ccci binary built once for the package and its ccci-*
// symlinks (ccci --install).
var binDir string

var seedFlag = flag.Int64("seed", 0, "random seed (0: CCCI_SEED, else the time)")

func TestMain(m *testing.M) {
	flag.Parse()
	tb.Main(m, "concurrency", "../..", &binDir)
}

// rng returns the test's seeded source and logs the seed to replay it.
func rng(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		if s := os.Getenv("CCCI_SEED"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("CCCI_SEED=%q: %v", s, err)
			}
			seed = n
		}
	}
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay: go test ./tests/concurrency -run '^%s$' -seed %d)", seed, t.Name(), seed)
	return rand.New(rand.NewSource(seed))
}

var uniqMu sync.Mutex
var uniqN int

// uniq is a short name unique to this test binary and call: domains built
// from it never meet another package's, or another run's, leftovers.
func uniq(prefix string) string {
	uniqMu.Lock()
	defer uniqMu.Unlock()
	uniqN++
	return fmt.Sprintf("%s%d%c", prefix, os.Getpid()%100000, 'a'+rune(uniqN%26))
}

// bed is one test's world: its own dirs and environment for ccci.
type bed struct {
	t                              *testing.T
	dir, lockDir, runsDir, abraDir string
	extra                          []string // more KEY=VALUE for every command
	scope                          string   // --scope for every janitor call
	recipe                         string   // the test recipe's dir
}

func newBed(t *testing.T, scope string) *bed {
	t.Helper()
	dir := t.TempDir()
	b := &bed{t: t, dir: dir, lockDir: filepath.Join(dir, "lock"), runsDir: filepath.Join(dir, "runs"),
		abraDir: filepath.Join(dir, "abra"), scope: scope}
	for _, d := range []string{b.lockDir, b.runsDir, b.abraDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r, err := filepath.Abs("../testdata/recipes/ccci-test-app")
	if err != nil {
		t.Fatal(err)
	}
	b.recipe = r
	return b
}

// environ is the environment of every ccci call of the bed, plus kv.
func (b *bed) environ(kv ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		switch strings.SplitN(e, "=", 2)[0] {
		case "PATH", "CCCI_LOCK_DIR", "CCCI_RUNS_DIR", "ABRA_DIR", "CCCI_RUN_ID", "DRONE_BUILD_NUMBER",
			"NO_COLOR", "FORCE_COLOR", "CCCI_LOCK_BACKEND", "CCCI_RUN_MIN_AGE":
			continue
		}
		env = append(env, e)
	}
	env = append(env, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"CCCI_LOCK_DIR="+b.lockDir, "CCCI_RUNS_DIR="+b.runsDir, "ABRA_DIR="+b.abraDir, "NO_COLOR=1")
	env = append(env, b.extra...)
	return append(env, kv...)
}

// cmd is a command of the bed, in its dir, with kv added to its environment.
func (b *bed) cmd(kv []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(binDir, name), args...)
	if !strings.HasPrefix(name, "ccci") {
		c = exec.Command(name, args...)
	}
	c.Dir = b.dir
	c.Env = b.environ(kv...)
	return c
}

// run runs a command to its end, bounded, and returns its status and output.
func (b *bed) run(kv []string, name string, args ...string) (int, string) {
	b.t.Helper()
	c := b.cmd(kv, name, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	return waitCmd(b.t, c, 4*time.Minute), out.String()
}

// waitCmd waits for c, at most d (then SIGKILLs it and fails), and returns
// its exit status, 128+N if killed by signal N.
func waitCmd(t *testing.T, c *exec.Cmd, d time.Duration) int {
	t.Helper()
	if !endWithin(c, d) {
		t.Fatalf("%v: still running after %v; killed", c.Args, d)
	}
	return status(c.ProcessState)
}

// endWithin waits for c, at most d, then SIGKILLs it and waits for that;
// it reports whether c ended by itself. Safe off the test's goroutine.
func endWithin(c *exec.Cmd, d time.Duration) bool {
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		c.Process.Kill()
		<-done
		return false
	}
}

func status(ps *os.ProcessState) int {
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// heldDeploy starts ccci-deploy of domain as run, with a test command that
// says it runs (NAME.req) and then waits, at most polls × 50 ms, for ack()
// — while a test breaks something under it. It returns once the test
// command runs; stderr is the deploy's stderr.
func (b *bed) heldDeploy(run, domain, name string, polls int) (c *exec.Cmd, stderr *bytes.Buffer, ack func()) {
	b.t.Helper()
	req, ackFile := filepath.Join(b.dir, name+".req"), filepath.Join(b.dir, name+".ack")
	c = b.cmd([]string{"CCCI_RUN_ID=" + run, "REQ=" + req, "ACK=" + ackFile, "POLLS=" + strconv.Itoa(polls)},
		"ccci-deploy", "--recipe", b.recipe, domain, "--",
		"sh", "-c", `touch "$REQ"; i=0; while [ ! -e "$ACK" ] && [ $i -lt $POLLS ]; do i=$((i+1)); sleep 0.05; done`)
	stderr = new(bytes.Buffer)
	c.Stderr = stderr
	if err := c.Start(); err != nil {
		b.t.Fatal(err)
	}
	waitFor(b.t, 3*time.Minute, "the test command", func() bool { _, err := os.Stat(req); return err == nil })
	return c, stderr, func() { os.WriteFile(ackFile, nil, 0o644) }
}

// janitor runs one ccci-janitor pass (or --check) scoped to the bed's
// domains, with --min-age 0 (every run dir without a live holder is dead):
// the harshest setting for "never reap a live run".
func (b *bed) janitor(args ...string) (int, string) {
	b.t.Helper()
	args = append([]string{"--scope", b.scope, "--min-age", "0", "--grace", "1s"}, args...)
	return b.run(nil, "ccci-janitor", args...)
}

// clean asserts that ccci-janitor --check finds nothing.
func (b *bed) clean(what string) {
	b.t.Helper()
	if st, out := b.janitor("--check"); st != 0 {
		b.t.Fatalf("%s: ccci-janitor --check exit %d:\n%s", what, st, out)
	}
}

// deadline bounds every wait on a condition; nothing waits bare.
const deadline = 60 * time.Second

// waitFor polls cond until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !tb.Poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// fileHas reports whether path exists and contains s.
func fileHas(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// readPid reads the first field of path as a pid.
func readPid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	return n, err == nil
}

// tree returns root and its descendants, from /proc (host pids).
func tree(root int) []int {
	kids := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ppid(pid); ok {
			kids[pp] = append(kids[pp], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

func ppid(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(f[1])
	return n, err == nil
}

// comm is the process's name, "" if gone.
func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// marked returns the live (non-zombie) processes whose environment holds
// KEY=VALUE: a run's processes, tagged by the test.
func marked(kv string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	needle := []byte(kv)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || len(env) == 0 {
			continue // gone, a kernel thread or a zombie
		}
		for _, v := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(v, needle) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// noneMarked waits until no process carries kv.
func noneMarked(t *testing.T, kv string) {
	t.Helper()
	var left []int
	end := time.Now().Add(deadline)
	for {
		if left = marked(kv); len(left) == 0 {
			return
		}
		if time.Now().After(end) {
			var d []string
			for _, p := range left {
				d = append(d, fmt.Sprintf("%d (%s)", p, comm(p)))
			}
			t.Fatalf("processes of %s still alive after %v: %s", kv, deadline, strings.Join(d, ", "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testbed brings dockerd, the swarm and the test image up once; a test
// needing them FAILS if it cannot.
func testbed(t *testing.T) { tb.Need(t, "../..") }

// stackObjects lists every engine object of domain's stack, through the
// Engine API directly.
func stackObjects(domain string) ([]string, error) { return tb.StackObjects(domain) }

// nothingLeft fails if the engine still has anything of domain's stack, or
// its env file exists.
func (b *bed) nothingLeft(domain string) {
	b.t.Helper()
	left, err := stackObjects(domain)
	if err != nil {
		b.t.Fatalf("list %s on the swarm: %v", domain, err)
	}
	if len(left) > 0 {
		b.t.Fatalf("%s: left on the swarm: %s", domain, strings.Join(left, ", "))
	}
	if _, err := os.Stat(filepath.Join(b.abraDir, "servers", "default", domain+".env")); err == nil {
		b.t.Fatalf("%s: env file left", domain)
	}
}

// reapAtEnd tears down whatever of the bed's domains a failed test left,
// so a failure never leaks onto the shared swarm.
func (b *bed) reapAtEnd() {
	b.t.Cleanup(func() {
		if b.t.Failed() {
			b.run(nil, "ccci-janitor", "--scope", b.scope, "--min-age", "0", "--grace", "1s")
		}
	})
}

// probeFree waits until DOMAIN's lock can be taken at once (ccci-lock -n).
func (b *bed) lockFree(domain string, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		c := b.cmd(nil, "ccci-lock", "-n", domain, "--", "true")
		if err := c.Run(); err == nil {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
