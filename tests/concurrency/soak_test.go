package concurrency

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// soak skips unless CCCI_SOAK=1 (make soak): these take many minutes.
func soak(t *testing.T) {
	if os.Getenv("CCCI_SOAK") != "1" {
		t.Skip("soak: set CCCI_SOAK=1 (make soak)")
	}
}

// TestSoakRandomKills is TestRandomKills with 1000 iterations.
func TestSoakRandomKills(t *testing.T) {
	soak(t)
	randomKills(t, 1000)
}

// TestSoakJanitor: ccci-janitor every 200 ms (--min-age 10s, where the
// default is 2m) while 30 runs of 3 domains deploy, test and tear down; every fifth run
// is cancelled (SIGTERM in its test), every fifth SIGKILLed at a random
// moment after it acquired. Every other run must exit 0 with deploy-count
// = 1, its test command having found its own service deployed: no live
// app is ever reaped. After a SIGKILLed run, its domain's next run starts
// once the janitor has reaped the leftovers (see docs/concurrency.md).
// At the end, one more pass and --check reports zero leaks.
func TestSoakJanitor(t *testing.T) {
	soak(t)
	testbed(t)
	r := rng(t)
	u := uniq("z")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	if err := os.WriteFile(filepath.Join(b.dir, "work.sh"), []byte(workSh+`docker service inspect "${STACK_NAME}_app" >/dev/null || exit 7
`), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var jwg sync.WaitGroup
	passes, jerrs := 0, 0
	jwg.Add(1)
	go func() {
		defer jwg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				// Not --min-age 0: these runs have no run dir, so 0 ("only
				// a held live-lock") makes a run's ccci-deploy fair game
				// between its exec and its first flock.
				c := b.cmd(nil, "ccci-janitor", "--scope", b.scope, "--min-age", "10s", "--grace", "1s")
				out, err := c.CombinedOutput()
				passes++
				if err != nil {
					jerrs++
					t.Logf("janitor pass: %v\n%s", err, out)
				}
			}
		}
	}()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for d := range 3 {
		domain := fmt.Sprintf("%s-%d.ci.test", u, d)
		seed := r.Int63()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := newRand(seed)
			for i := range 10 {
				tag := fmt.Sprintf("%s-%d-%d", u, d, i)
				kind := []string{"ok", "ok", "ok", "cancel", "kill"}[rr.Intn(5)]
				kv := []string{"TAG=" + tag, "CHAOS=" + tag, "CCCI_RUN_ID=" + tag}
				c := b.cmd(kv, "ccci-deploy", "--recipe", b.recipe, "--grace", "2s", domain, "--", "sh", "work.sh")
				var errb bytes.Buffer
				c.Stderr = &errb
				if err := c.Start(); err != nil {
					t.Error(err)
					return
				}
				cmdFile := filepath.Join(b.dir, tag+".cmd")
				switch kind {
				case "ok":
					waitQuiet(3*time.Minute, func() bool { _, ok := readPid(cmdFile); return ok })
					os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
				case "cancel":
					waitQuiet(3*time.Minute, func() bool { _, ok := readPid(cmdFile); return ok })
					c.Process.Signal(syscall.SIGTERM)
				case "kill":
					waitQuiet(3*time.Minute, func() bool { return strings.Contains(errb.String(), "acquired") })
					time.Sleep(time.Duration(rr.Int63n(int64(8 * time.Second))))
					c.Process.Signal(syscall.SIGKILL)
				}
				endWithin(c, 5*time.Minute)
				st := status(c.ProcessState)
				mu.Lock()
				counts[kind]++
				mu.Unlock()
				out := errb.String()
				switch {
				case kind == "ok" && (st != 0 || !strings.Contains(out, "\ndeploy-count = 1\n")):
					t.Errorf("%s: a run left alone ended %d (a live app reaped?):\n%s", tag, st, out)
				case kind == "cancel" && st != 143:
					t.Errorf("%s: cancelled run ended %d, want 143:\n%s", tag, st, out)
				case kind == "kill":
					// The janitor reaps it: wait for that before the next run.
					if !waitQuiet(3*time.Minute, func() bool { l, err := stackObjects(domain); return err == nil && len(l) == 0 }) {
						t.Errorf("%s: the janitor never reaped the SIGKILLed run's app", tag)
						return
					}
				}
				os.WriteFile(filepath.Join(b.dir, tag+".go"), nil, 0o644)
				noneMarked(t, "CHAOS="+tag)
			}
		}()
	}
	wg.Wait()
	close(stop)
	jwg.Wait()
	if st, out := b.janitor(); st != 0 {
		t.Errorf("final pass: %d %s", st, out)
	}
	b.clean("after the soak")
	t.Logf("runs %v; %d janitor passes, %d with errors", counts, passes, jerrs)
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

// TestSoakDeployKills is TestDeployKills with 50 runs (2 beds of 25): every
// phase and the step shell are then certain to be hit (see deployKillsN).
func TestSoakDeployKills(t *testing.T) {
	soak(t)
	testbed(t)
	t.Parallel()
	deployKillsN(t, 2, 25)
}
