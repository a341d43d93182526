package tests

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestRunstate(t *testing.T) { testscript.Run(t, params("runstate")) }

// runstateCmd is a real ccci-runstate process for run id in runsDir.
func runstateCmd(runsDir, id string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(binDir, "ccci-runstate"), append([]string{"--run", id}, args...)...)
	c.Env = append(os.Environ(), "CCCI_RUNS_DIR="+runsDir)
	return c
}

// TestIncrConcurrent: 100 concurrent ccci-runstate incr processes of one
// counter end at exactly 100, and each printed a distinct value 1..100 (no
// two read the same old value).
func TestIncrConcurrent(t *testing.T) {
	const n = 100
	runs := filepath.Join(t.TempDir(), "runs")
	outs := make([]bytes.Buffer, n)
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = runstateCmd(runs, "conc", "incr", "deploy-count")
		cmds[i].Stdout = &outs[i]
		cmds[i].Stderr = os.Stderr
	}
	// Start them all before waiting for any, so they really overlap.
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatalf("start #%d: %v", i, err)
		}
	}
	var got []int
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("incr #%d: %v", i, err)
		}
		v, err := strconv.Atoi(strings.TrimSpace(outs[i].String()))
		if err != nil {
			t.Fatalf("incr #%d printed %q", i, outs[i].String())
		}
		got = append(got, v)
	}
	sort.Ints(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("incr values %v: want each of 1..%d once", got, n)
		}
	}
	out, err := runstateCmd(runs, "conc", "get", "deploy-count").Output()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(n) {
		t.Fatalf("get = %q, %v; want %d", out, err, n)
	}
}

// TestIncrKilled: incr processes SIGKILLed at random moments (several at
// once, so some die holding the flock or mid-write) never leave a counter
// that get cannot read, never lose a completed increment, and never block
// later callers (the kernel drops a dead holder's flock).
func TestIncrKilled(t *testing.T) {
	rounds := 40
	if os.Getenv("CCCI_SOAK") != "" {
		rounds = 2000
	}
	const par = 4
	runs := filepath.Join(t.TempDir(), "runs")
	// Kill moments spread over twice the slowest of a few unkilled runs
	// (the counter they leave is part of the test), so both outcomes occur
	// however slow the machine is.
	completed, started, killed, midWrite := 0, 0, 0, 0
	var span time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if out, err := runstateCmd(runs, "kill", "incr", "n").CombinedOutput(); err != nil {
			t.Fatalf("incr: %v: %s", err, out)
		}
		span = max(span, 2*time.Since(t0))
		completed++
		started++
	}
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for p := 0; p < par; p++ {
			c := runstateCmd(runs, "kill", "incr", "n")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			started++
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The kill moment is random by design (fault injection,
				// not a wait): spread over a Go binary's start-up and run.
				time.Sleep(time.Duration(rand.Int64N(int64(span))))
				c.Process.Signal(syscall.SIGKILL)
				err := c.Wait()
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					completed++
				} else if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					killed++
				} else {
					t.Errorf("incr failed without being killed: %v", err)
				}
			}()
		}
		wg.Wait()
		// A temp file in tmp/ is an incr killed between write and rename
		// (the next incr drops it).
		if left, _ := os.ReadDir(filepath.Join(runs, "kill", "tmp")); len(left) > 0 {
			midWrite++
		}
		out, err := runstateCmd(runs, "kill", "get", "n").CombinedOutput()
		if err != nil {
			t.Fatalf("round %d: get after kills: %v: %s", r, err, out)
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || v < completed || v > started {
			t.Fatalf("round %d: get = %q; want a number in [%d completed, %d started]", r, out, completed, started)
		}
	}
	t.Logf("%d incr started, %d completed, %d killed (%d rounds with one killed mid-write); kill window %v", started, completed, killed, midWrite, span)
	if killed == 0 || completed == 0 {
		t.Fatalf("no mix of killed (%d) and completed (%d) incr: the test proved nothing", killed, completed)
	}
	// A final, unkilled incr still works and continues from the value read.
	before, _ := runstateCmd(runs, "kill", "get", "n").Output()
	after, err := runstateCmd(runs, "kill", "incr", "n").Output()
	b, _ := strconv.Atoi(strings.TrimSpace(string(before)))
	if a, _ := strconv.Atoi(strings.TrimSpace(string(after))); err != nil || a != b+1 {
		t.Fatalf("incr after the kills = %q, %v; want %d", after, err, b+1)
	}
}
