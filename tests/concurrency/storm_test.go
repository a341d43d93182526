package concurrency

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tb "git.coopcloud.tech/toolshed/ccci/tests/testbed"
)

// slowTerm is a test command whose TERM handler takes a while (a second)
// and then writes the teardown marker once; it records its pid when ready.
const slowTerm = `trap 'sleep 1; echo torn >>"$MARKER"; exit 0' TERM
read -r pid _ </proc/self/stat
echo "$pid" >"$READY"
i=0
while [ $i -lt 2400 ]; do i=$((i + 1)); sleep 0.05; done
exit 9
`

var stormSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}

// storm sends first to pid and waits until the run reports that it is
// ending (the funnel line on stderr), then sends a random TERM, INT or HUP
// every few milliseconds until c exits; it returns c's status and how many
// signals reached it (kill(2) succeeded), the first included. The storm
// waits for the funnel because Go's runtime hands pending signals to the
// program in signal-number order, not arrival order: a SIGINT sent 5 ms
// after a SIGTERM, both pending before the signal goroutine runs on a
// loaded machine, reaches the funnel first.
func storm(t *testing.T, r *rand.Rand, c *exec.Cmd, stderr *tb.SyncBuffer, first syscall.Signal, d time.Duration) (int, int) {
	t.Helper()
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	pid := c.Process.Pid
	syscall.Kill(pid, first)
	sent := 1
	end := time.After(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	ending := false
	for {
		select {
		case <-done:
			return status(c.ProcessState), sent
		case <-end:
			c.Process.Kill()
			<-done
			t.Fatalf("%v: still running after %v of %v and the storm (ending the run: %v):\n%s", c.Args, d, first, ending, stderr)
		case <-tick.C:
			if ending = ending || strings.Contains(stderr.String(), "ending the run"); ending {
				if syscall.Kill(pid, stormSignals[r.Intn(len(stormSignals))]) == nil {
					sent++
				}
			}
		}
	}
}

// TestSignalStorm: SIGTERM, SIGINT or SIGHUP, then a storm of all three,
// delivered to ccci-lock (and to a ccci-sh step shell running it in
// process) while the command's slow TERM handler runs: the teardown runs
// once and completes (the marker is written exactly once), the status is
// the first signal's (143, 130, 129), more than one signal reached the run
// during its teardown and the later ones were reported as ignored (in the
// ccci-sh subtests too), the lock is free and no process of the run is left.
func TestSignalStorm(t *testing.T) {
	r := rng(t)
	u := uniq("s")
	b := newBed(t, "^"+u+"-")
	if err := os.WriteFile(filepath.Join(b.dir, "slow.sh"), []byte(slowTerm), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, shell := range []bool{false, true} {
		for _, first := range stormSignals {
			name := first.String()
			if shell {
				name = "ccci-sh/" + name
			}
			t.Run(name, func(t *testing.T) {
				tag := u + strings.ReplaceAll(name, "/", "-")
				domain := u + "-1.ci.test"
				marker, ready := filepath.Join(b.dir, tag+".marker"), filepath.Join(b.dir, tag+".ready")
				exitMarker := filepath.Join(b.dir, tag+".exit")
				kv := []string{"MARKER=" + marker, "READY=" + ready, "CHAOS=" + tag, "D=" + domain, "EXITMARK=" + exitMarker}
				var c *exec.Cmd
				if shell {
					c = b.cmd(kv, "ccci-sh", "-c", `trap 'echo exit >>"$EXITMARK"' EXIT; ccci-lock --grace 10s "$D" -- sh slow.sh`)
				} else {
					c = b.cmd(kv, "ccci-lock", "--grace", "10s", domain, "--", "sh", "slow.sh")
				}
				var errb tb.SyncBuffer
				c.Stderr = &errb
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				waitFor(t, deadline, "the command to be ready", func() bool { _, ok := readPid(ready); return ok })
				st, sent := storm(t, r, c, &errb, first, deadline)
				out := errb.String()
				if want := 128 + int(first); st != want {
					t.Errorf("exit %d, want %d\n%s", st, want, out)
				}
				if m, _ := os.ReadFile(marker); string(m) != "torn\n" {
					t.Errorf("teardown marker %q, want it written exactly once\n%s", m, out)
				}
				if n := strings.Count(out, "ending the run"); n != 1 {
					t.Errorf("%d funnel entries, want 1:\n%s", n, out)
				}
				// The storm must really have hit the teardown: the
				// slow TERM handler takes a second, the storm sends
				// every 5 ms once the funnel line is out.
				if sent <= 1 {
					t.Errorf("%d signals reached the run, want a storm during the teardown:\n%s", sent, out)
				}
				if !strings.Contains(out, "again during teardown; ignoring") {
					t.Errorf("%d signals sent, none reported as ignored:\n%s", sent, out)
				}
				if shell {
					if m, _ := os.ReadFile(exitMarker); string(m) != "exit\n" {
						t.Errorf("EXIT trap ran %q, want once", m)
					}
				}
				noneMarked(t, "CHAOS="+tag)
				if !b.lockFree(domain, 5*time.Second) {
					t.Fatal("the lock is still held")
				}
				t.Logf("%d signals; exit %d", sent, st)
			})
		}
	}
}

// TestDeployStorm: a ccci-deploy whose test command has a slow TERM
// handler gets SIGTERM, then a storm of TERM, INT and HUP through its
// whole teardown: it exits 143 once the teardown is complete, the
// teardown and the deploy count are reported exactly once, the test's
// marker is written once, and nothing of the app is left.
func TestDeployStorm(t *testing.T) {
	testbed(t)
	t.Parallel()
	r := rng(t)
	u := uniq("t")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	if err := os.WriteFile(filepath.Join(b.dir, "slow.sh"), []byte(slowTerm), 0o644); err != nil {
		t.Fatal(err)
	}
	domain := u + "-1.ci.test"
	marker, ready := filepath.Join(b.dir, "marker"), filepath.Join(b.dir, "ready")
	kv := []string{"MARKER=" + marker, "READY=" + ready, "CHAOS=" + u, "CCCI_RUN_ID=" + u}
	c := b.cmd(kv, "ccci-deploy", "--recipe", b.recipe, "--grace", "10s", domain, "--", "sh", "slow.sh")
	var errb tb.SyncBuffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, "the test command to be ready", func() bool { _, ok := readPid(ready); return ok })
	st, sent := storm(t, r, c, &errb, syscall.SIGTERM, 4*time.Minute)
	out := errb.String()
	if st != 143 {
		t.Errorf("exit %d, want 143\n%s", st, out)
	}
	for _, line := range []string{"== teardown: ", "\ndeploy-count = 1\n", "ending the run"} {
		if n := strings.Count(out, line); n != 1 {
			t.Errorf("%q %d times, want once:\n%s", line, n, out)
		}
	}
	if !strings.Contains(out, "complete") || !strings.Contains(out, "again during teardown; ignoring") {
		t.Errorf("want a complete teardown and ignored signals:\n%s", out)
	}
	if m, _ := os.ReadFile(marker); string(m) != "torn\n" {
		t.Errorf("test command's marker %q, want once", m)
	}
	t.Logf("%d signals during the teardown", sent)
	noneMarked(t, "CHAOS="+u)
	b.nothingLeft(domain)
	if st, out := b.run(nil, "ccci-runstate", "--run", u, "rm", "--force"); st != 0 {
		t.Errorf("ccci-runstate rm: %d %s", st, out)
	}
	b.clean("after the storm")
}
