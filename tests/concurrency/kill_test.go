package concurrency

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tb "git.coopcloud.tech/toolshed/ccci/tests/testbed"
)

// work.sh is the test command of a chaos run: it records its host pid
// (procfs is the host's even in the run's PID namespace), leaves a setsid'd
// grandchild that ignores SIGTERM (and says so in $TAG.gc), and waits,
// bounded ($LIMIT polls, 1200 by default: about a minute), for $TAG.go.
const workSh = `read -r pid _ </proc/self/stat
echo "$pid" >"$TAG.cmd"
setsid sh -c 'trap "" TERM; : >"$TAG.gc"; i=0; while [ ! -e "$TAG.go" ] && [ $i -lt ${LIMIT:-1200} ]; do i=$((i+1)); sleep 0.05; done' &
i=0
while [ ! -e "$TAG.go" ]; do
	i=$((i + 1))
	[ $i -le ${LIMIT:-1200} ] || exit 9
	sleep 0.05
done
`

// liveRun starts a run holding domain for the whole test (a ccci-lock
// whose command waits for live.go), with its run directory initialised:
// the janitor passes of a chaos test must never touch it. stop ends it and
// checks it ran undisturbed to exit 0.
func (b *bed) liveRun(domain string) (check func(), stop func()) {
	t := b.t
	t.Helper()
	kv := []string{"CCCI_RUN_ID=live", "TAG=live", "CHAOS=live", "LIMIT=100000"}
	if st, out := b.run(kv, "ccci-runstate", "init"); st != 0 {
		t.Fatalf("ccci-runstate init: %d %s", st, out)
	}
	c := b.cmd(kv, "ccci-lock", "--grace", "1s", domain, "--", "sh", "-c", workSh+`echo done >live.done`)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	cmdFile := filepath.Join(b.dir, "live.cmd")
	waitFor(t, deadline, "the live run's command", func() bool { _, ok := readPid(cmdFile); return ok })
	cmdPid, _ := readPid(cmdFile)
	check = func() {
		t.Helper()
		if !running(c.Process.Pid) || !running(cmdPid) {
			t.Fatalf("the live run (ccci-lock %d, command %d) was killed", c.Process.Pid, cmdPid)
		}
		if st, out := b.run(nil, "ccci-lock", "--probe", domain); st != 1 {
			t.Fatalf("the live run's lock is not held: --probe exit %d: %s", st, out)
		}
		if _, err := os.Stat(filepath.Join(b.runsDir, "live")); err != nil {
			t.Fatalf("the live run's directory was removed: %v", err)
		}
	}
	stop = func() {
		t.Helper()
		check()
		os.WriteFile(filepath.Join(b.dir, "live.go"), nil, 0o644)
		if st := waitCmd(t, c, deadline); st != 0 {
			t.Fatalf("the live run ended %d, want 0", st)
		}
		if !fileHas(filepath.Join(b.dir, "live.done"), "done") {
			t.Fatal("the live run's command did not finish")
		}
	}
	return check, stop
}

// TestRandomKills: 100 runs — a ccci-sh step shell running ccci-lock (in
// process) running work.sh — each SIGKILLed at a random moment in a random
// one of its processes (the step shell, the run's init, the command, the
// setsid'd grandchild). After each: the lock is free again within
// lockRelease with no janitor pass (nothing of a killed run keeps the
// flock: its fd is O_CLOEXEC, never inherited, and the kernel frees it when
// its holder dies), no process of the run is left, a janitor pass leaves
// --check clean, and a live run holding another domain throughout is never
// touched. Every kind of victim is hit (see victimKinds for the odds).
func TestRandomKills(t *testing.T) {
	randomKills(t, 100)
}

// lockRelease bounds how long a killed run's lock may stay held: the
// release is immediate (the holder's exit, or the kernel on its death);
// the rest is slack for the noisy shared cores.
const lockRelease = 10 * time.Second

// victimKinds are the processes of a run a chaos test kills, in a fixed
// order (a seed replays the same choices). The kind is drawn first, evenly
// among those present, then a process of it: a plain draw over the tree
// would mostly hit the short-lived sleeps of the polling loops, whose death
// only ends one poll. Other processes (those sleeps, forks about to exec)
// are never victims.
var victimKinds = []string{"step shell", "init", "command", "grandchild"}

// kindOf classifies pid of the tree under root (the step shell): the init
// is the step shell's child (ccci-lock runs in process), the command the
// init's, the grandchild the setsid'd sh (or setsid before its exec).
func kindOf(pid, root int) string {
	cl, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	pp, _ := ppid(pid)
	gp, _ := ppid(pp)
	switch {
	case pid == root:
		return "step shell"
	case bytes.Contains(cl, []byte(`trap "" TERM`)) || comm(pid) == "setsid":
		return "grandchild"
	case pp == root:
		return "init"
	case gp == root:
		return "command"
	}
	return "other"
}

// pickVictim draws a kind among those present in root's tree, then one of
// its processes.
func pickVictim(r *rand.Rand, root int) (int, string) {
	by := map[string][]int{}
	for _, p := range tree(root) {
		k := kindOf(p, root)
		by[k] = append(by[k], p)
	}
	var present []string
	for _, k := range victimKinds {
		if len(by[k]) > 0 {
			present = append(present, k)
		}
	}
	k := present[r.Intn(len(present))] // the step shell is always there
	return by[k][r.Intn(len(by[k]))], k
}

// coverage logs how often each key was hit in n draws and fails for a key
// never hit although p[key], a lower bound of its chance per draw, makes
// that improbable: (1-p)^n below 1e-6. The callers' comments give the p.
func coverage(t *testing.T, what string, hits map[string]int, p map[string]float64, n int) {
	t.Helper()
	var l []string
	for k, c := range hits {
		l = append(l, fmt.Sprintf("%s %d", k, c))
	}
	sort.Strings(l)
	t.Logf("%s over %d runs: %s", what, n, strings.Join(l, ", "))
	for k, pk := range p {
		if miss := math.Pow(1-pk, float64(n)); hits[k] == 0 && miss < 1e-6 {
			t.Errorf("%s: %q never hit in %d runs (chance of that by luck: %.1g)", what, k, n, miss)
		}
	}
}

func randomKills(t *testing.T, iters int) {
	r := rng(t)
	u := uniq("k")
	b := newBed(t, "^"+u+"-")
	domain, liveDomain := u+"-1.ci.test", u+"-2.ci.test"
	if err := os.WriteFile(filepath.Join(b.dir, "work.sh"), []byte(workSh), 0o644); err != nil {
		t.Fatal(err)
	}
	check, stop := b.liveRun(liveDomain)
	killed := map[string]int{}
	for i := range iters {
		tag := fmt.Sprintf("k%03d", i)
		kv := []string{"TAG=" + tag, "CHAOS=" + tag, "CCCI_RUN_ID=" + tag, "D=" + domain}
		c := b.cmd(kv, "ccci-sh", "-c", `ccci-lock --grace 300ms "$D" -- sh work.sh`)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// The moment: early (maybe before the lock is taken) or while
		// the command and its grandchild run.
		if r.Intn(3) == 0 {
			time.Sleep(time.Duration(r.Intn(100)) * time.Millisecond)
		} else {
			cmdFile, gcFile := filepath.Join(b.dir, tag+".cmd"), filepath.Join(b.dir, tag+".gc")
			waitFor(t, deadline, tag+"'s command and grandchild", func() bool {
				_, ok := readPid(cmdFile)
				_, err := os.Stat(gcFile)
				return ok && err == nil
			})
			time.Sleep(time.Duration(r.Intn(50)) * time.Millisecond)
		}
		victim, name := pickVictim(r, c.Process.Pid)
		killed[name]++
		syscall.Kill(victim, syscall.SIGKILL)
		os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
		waitCmd(t, c, deadline)

		// No janitor pass before this: a lock still held is a bug.
		if !b.lockFree(domain, lockRelease) {
			t.Errorf("%s (killed %s %d): the lock is not free %v after the run ended, without a janitor pass", tag, name, victim, lockRelease)
			b.janitor()
			if !b.lockFree(domain, lockRelease) {
				t.Fatalf("%s (killed %s %d): the lock is still held after a janitor pass", tag, name, victim)
			}
		}
		noneMarked(t, "CHAOS="+tag)
		if st, out := b.janitor(); st != 0 {
			t.Fatalf("%s: janitor pass exit %d:\n%s", tag, st, out)
		}
		b.clean(tag)
		check()
	}
	stop()
	// In 2 runs of 3 the kill waits until the command and its grandchild
	// run: then all four kinds are present and each is drawn with 1/4. So
	// each kind's chance per run is at least 2/3 * 1/4 = 1/6, and missing
	// one in 100 runs has (5/6)^100 = 1.2e-8 (four kinds: 5e-8).
	p := map[string]float64{}
	for _, k := range victimKinds {
		p[k] = 1.0 / 6
	}
	coverage(t, "victims", killed, p, iters)
}

// TestDeployKills: 16 ccci-deploy runs on the real swarm (two at a time,
// each in its own bed), each SIGKILLed at a random moment — deploying,
// converging or testing — in a random process: the step shell running
// ccci-deploy in process, the test command's init, the test command, its
// grandchild. After one janitor pass, --check is clean and nothing of the
// app is left on the swarm; a live deploy in each bed, in its test command
// throughout, is never touched by those passes. TestSoakDeployKills runs 50.
func TestDeployKills(t *testing.T) {
	testbed(t)
	t.Parallel()
	deployKillsN(t, 2, 8)
}

// deployKillsN runs workers beds of each killed deploys side by side, then
// checks every phase and kind of victim was hit where the odds say so.
func deployKillsN(t *testing.T, workers, each int) {
	r := rng(t)
	seeds := make([]int64, workers)
	for w := range seeds {
		seeds[w] = r.Int63()
	}
	var wg sync.WaitGroup
	results := make([][]string, workers)
	tallies := make([]map[string]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tallies[w] = map[string]int{}
			results[w] = deployKills(t, rand.New(rand.NewSource(seeds[w])), each, tallies[w])
		}()
	}
	wg.Wait()
	for w, res := range results {
		t.Logf("worker %d: %s", w, strings.Join(res, "; "))
	}
	if t.Failed() {
		return // a worker stopped early: the counts say nothing
	}
	phases, kinds := map[string]int{}, map[string]int{}
	for _, ta := range tallies {
		for k, n := range ta {
			if ph, ok := strings.CutPrefix(k, "phase "); ok {
				phases[ph] += n
			} else {
				kinds[k] += n
			}
		}
	}
	// The phase is drawn evenly: 1/3 each ((2/3)^50 = 1.6e-9). Deploying
	// (at most 0.3 s after "== deploy:", long before a service converges)
	// the step shell is the only process (ccci-deploy runs in it, with no
	// child): it is hit with at least 1/3. Testing, all four kinds are
	// there (the kill waits for the grandchild), each drawn with 1/4: 1/12
	// per run, (11/12)^50 = 1.3e-2, too likely a miss to fail on, so
	// coverage only logs those. With 8 runs nothing is likely enough.
	n := workers * each
	coverage(t, "phases", phases, map[string]float64{"deploying": 1.0 / 3, "converging": 1.0 / 3, "testing": 1.0 / 3}, n)
	coverage(t, "victims", kinds, map[string]float64{"step shell": 1.0 / 3, "init": 1.0 / 12, "command": 1.0 / 12, "grandchild": 1.0 / 12}, n)
}

// deployKills runs n killed deploys in one bed, counting each phase and
// kind of victim in tally; t.Fatal from a worker goroutine is avoided:
// failures are t.Errorf and end the worker.
func deployKills(t *testing.T, r *rand.Rand, n int, tally map[string]int) (res []string) {
	u := uniq("x")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	if err := os.WriteFile(filepath.Join(b.dir, "work.sh"), []byte(workSh), 0o644); err != nil {
		t.Error(err)
		return
	}
	alive, stop := b.liveDeploy(u + "-99.ci.test")
	if alive == nil {
		return
	}
	defer stop()
	for i := range n {
		tag := fmt.Sprintf("%s-%d", u, i)
		domain := tag + ".ci.test"
		kv := []string{"TAG=" + tag, "CHAOS=" + tag, "CCCI_RUN_ID=" + tag, "D=" + domain, "R=" + b.recipe}
		errFile := filepath.Join(b.dir, tag+".err")
		ef, err := os.Create(errFile)
		if err != nil {
			t.Error(err)
			return
		}
		c := b.cmd(kv, "ccci-sh", "-c", `ccci-deploy --recipe "$R" --grace 2s --timeout 2m "$D" -- sh work.sh`)
		c.Stdout, c.Stderr = ef, ef
		if err := c.Start(); err != nil {
			t.Error(err)
			return
		}
		phase := []string{"deploying", "converging", "testing"}[r.Intn(3)]
		var cond func() bool
		var jitter time.Duration
		switch phase {
		case "deploying":
			cond, jitter = func() bool { return fileHas(errFile, "== deploy:") }, 300*time.Millisecond
		case "converging":
			cond, jitter = func() bool { return fileHas(errFile, "app: 0/1") }, 2*time.Second
		default:
			cond = func() bool {
				_, ok := readPid(filepath.Join(b.dir, tag+".cmd"))
				_, err := os.Stat(filepath.Join(b.dir, tag+".gc"))
				return ok && err == nil
			}
			jitter = 200 * time.Millisecond
		}
		if !waitQuiet(2*time.Minute, cond) {
			c.Process.Kill()
			c.Wait()
			b2, _ := os.ReadFile(errFile)
			t.Errorf("%s: never reached %s:\n%s", tag, phase, b2)
			return
		}
		time.Sleep(time.Duration(r.Int63n(int64(jitter))))
		victim, name := pickVictim(r, c.Process.Pid)
		tally["phase "+phase]++
		tally[name]++
		syscall.Kill(victim, syscall.SIGKILL)
		os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
		if !endWithin(c, 5*time.Minute) {
			t.Errorf("%s: the run did not end after its %s was killed", tag, name)
			return
		}
		ef.Close()
		res = append(res, fmt.Sprintf("%s: %s killed while %s, exit %d", tag, name, phase, status(c.ProcessState)))
		if st, out := b.run(nil, "ccci-janitor", "--scope", b.scope, "--min-age", "0", "--grace", "1s"); st != 0 {
			t.Errorf("%s (%s killed while %s): janitor pass exit %d:\n%s", tag, name, phase, st, out)
			return
		}
		if st, out := b.run(nil, "ccci-janitor", "--scope", b.scope, "--min-age", "0", "--check"); st != 0 {
			t.Errorf("%s (%s killed while %s): --check after one pass: exit %d:\n%s", tag, name, phase, st, out)
			return
		}
		if left, err := stackObjects(domain); err != nil || len(left) > 0 {
			t.Errorf("%s (%s killed while %s): left on the swarm: %v %v", tag, name, phase, left, err)
			return
		}
		if m := marked("CHAOS=" + tag); len(m) > 0 {
			t.Errorf("%s (%s killed while %s): processes left: %v", tag, name, phase, m)
			return
		}
		if !alive(tag) {
			return
		}
	}
	return res
}

// liveDeploy starts a deploy of domain in b that stays in its test command
// (work.sh waiting for its .go file) while the bed's kills and janitor
// passes go on beside it. alive reports, with t.Errorf, whether it is still
// untouched: its ccci-deploy and test command running, its app on the
// swarm. stop ends it and checks it ended well: exit 0, deploy-count = 1,
// nothing left. alive is nil when it could not be started (t.Errorf said
// why). Worker goroutines only: nothing here calls t.Fatal.
func (b *bed) liveDeploy(domain string) (alive func(after string) bool, stop func()) {
	t := b.t
	tag := strings.TrimSuffix(domain, ".ci.test")
	kv := []string{"TAG=" + tag, "CHAOS=" + tag, "CCCI_RUN_ID=" + tag, "LIMIT=100000"}
	var errb tb.SyncBuffer
	c := b.cmd(kv, "ccci-deploy", "--recipe", b.recipe, "--grace", "2s", domain, "--", "sh", "work.sh")
	c.Stdout, c.Stderr = &errb, &errb
	if err := c.Start(); err != nil {
		t.Error(err)
		return nil, nil
	}
	cmdFile := filepath.Join(b.dir, tag+".cmd")
	if !waitQuiet(3*time.Minute, func() bool { _, ok := readPid(cmdFile); return ok }) {
		c.Process.Kill()
		c.Wait()
		t.Errorf("the live deploy of %s never reached its test command:\n%s", domain, errb.String())
		return nil, nil
	}
	cmdPid, _ := readPid(cmdFile)
	alive = func(after string) bool {
		left, err := stackObjects(domain)
		if !running(c.Process.Pid) || !running(cmdPid) || err != nil || len(left) == 0 {
			t.Errorf("after %s: the live deploy of %s was touched (ccci-deploy %d, command %d, app %v %v):\n%s",
				after, domain, c.Process.Pid, cmdPid, left, err, errb.String())
			return false
		}
		return true
	}
	stop = func() {
		os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
		if !endWithin(c, 5*time.Minute) {
			t.Errorf("the live deploy of %s did not end", domain)
			return
		}
		out := errb.String()
		if st := status(c.ProcessState); st != 0 || !strings.Contains(out, "deploy-count = 1") {
			t.Errorf("the live deploy of %s ended %d:\n%s", domain, st, out)
		}
		if left, err := stackObjects(domain); err != nil || len(left) > 0 {
			t.Errorf("the live deploy of %s left %v %v", domain, left, err)
		}
	}
	return alive, stop
}

// waitQuiet polls cond up to d; false if it never held.
func waitQuiet(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// running reports whether pid exists and is not a zombie (kill(pid, 0)
// succeeds on a zombie that nobody waited for yet).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
