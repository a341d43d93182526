package concurrency

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// work.sh is the test command of a chaos run: it records its host pid
// (procfs is the host's even in the run's PID namespace), leaves a setsid'd
// grandchild that ignores SIGTERM, and waits, bounded ($LIMIT polls, 1200
// by default: about a minute), for $TAG.go.
const workSh = `read -r pid _ </proc/self/stat
echo "$pid" >"$TAG.cmd"
setsid sh -c 'trap "" TERM; i=0; while [ ! -e "$TAG.go" ] && [ $i -lt ${LIMIT:-1200} ]; do i=$((i+1)); sleep 0.05; done' &
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
		if syscall.Kill(c.Process.Pid, 0) != nil || syscall.Kill(cmdPid, 0) != nil {
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
// setsid'd grandchild). After each: the lock is free again within a
// deadline (after at most one janitor pass), no process of the run is left,
// a janitor pass leaves --check clean, and a live run holding another
// domain throughout is never touched.
func TestRandomKills(t *testing.T) {
	randomKills(t, 100)
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
	needJanitor := 0
	for i := range iters {
		tag := fmt.Sprintf("k%03d", i)
		kv := []string{"TAG=" + tag, "CHAOS=" + tag, "CCCI_RUN_ID=" + tag, "D=" + domain}
		c := b.cmd(kv, "ccci-sh", "-c", `ccci-lock --grace 300ms "$D" -- sh work.sh`)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// The moment: early (maybe before the lock is taken) or while
		// the command runs.
		if r.Intn(3) == 0 {
			time.Sleep(time.Duration(r.Intn(100)) * time.Millisecond)
		} else {
			cmdFile := filepath.Join(b.dir, tag+".cmd")
			waitFor(t, deadline, tag+"'s command", func() bool { _, ok := readPid(cmdFile); return ok })
			time.Sleep(time.Duration(r.Intn(50)) * time.Millisecond)
		}
		procs := tree(c.Process.Pid)
		victim := procs[r.Intn(len(procs))]
		name := comm(victim)
		switch {
		case victim == c.Process.Pid:
			name = "step shell"
		case name == "ccci", name == "exe":
			name = "init"
		}
		killed[name]++
		syscall.Kill(victim, syscall.SIGKILL)
		os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
		waitCmd(t, c, deadline)

		if !b.lockFree(domain, 5*time.Second) {
			needJanitor++
			b.janitor()
			if !b.lockFree(domain, 5*time.Second) {
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
	var kinds []string
	for k, n := range killed {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	t.Logf("%d runs killed (%s); lock free without a janitor pass in %d of them", iters, strings.Join(kinds, ", "), iters-needJanitor)
}

// TestDeployKills: 8 ccci-deploy runs on the real swarm (two at a time,
// each in its own bed), each SIGKILLed at a random moment — deploying,
// converging or testing — in a random process: the step shell running
// ccci-deploy in process, the test command's init, the test command, its
// grandchild. After one janitor pass, --check is clean and nothing of the
// app is left on the swarm.
func TestDeployKills(t *testing.T) {
	testbed(t)
	t.Parallel()
	r := rng(t)
	const workers, each = 2, 4
	seeds := make([]int64, workers)
	for w := range seeds {
		seeds[w] = r.Int63()
	}
	var wg sync.WaitGroup
	results := make([][]string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = deployKills(t, rand.New(rand.NewSource(seeds[w])), each)
		}()
	}
	wg.Wait()
	for w, res := range results {
		t.Logf("worker %d: %s", w, strings.Join(res, "; "))
	}
}

// deployKills runs n killed deploys in one bed; t.Fatal from a worker
// goroutine is avoided: failures are t.Errorf and end the worker.
func deployKills(t *testing.T, r *rand.Rand, n int) (res []string) {
	u := uniq("x")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	if err := os.WriteFile(filepath.Join(b.dir, "work.sh"), []byte(workSh), 0o644); err != nil {
		t.Error(err)
		return
	}
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
			cond = func() bool { _, ok := readPid(filepath.Join(b.dir, tag+".cmd")); return ok }
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
		procs := tree(c.Process.Pid)
		victim := procs[r.Intn(len(procs))]
		name := comm(victim)
		if victim == c.Process.Pid {
			name = "step shell"
		} else if name == "ccci" || name == "exe" {
			name = "init"
		}
		syscall.Kill(victim, syscall.SIGKILL)
		os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			c.Process.Kill()
			<-done
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
	}
	return res
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
