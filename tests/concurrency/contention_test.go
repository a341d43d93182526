package concurrency

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// critical is the command each contender runs under the lock: it appends
// "enter <ns> <run> <token>" and, a little later, "leave <ns> <run>" to
// $LOG. The pause widens the critical section so an overlap would show.
const critical = `echo "enter $(date +%s%N) $RUN $CCCI_LOCK_TOKEN" >>"$LOG"; sleep 0.02; echo "leave $(date +%s%N) $RUN" >>"$LOG"`

// counted is critical that also counts its deploy in its own run's state
// (ccci-runstate incr deploy-count, keyed by CCCI_RUN_ID), as ccci-deploy
// does under the lock.
const counted = `echo "enter $(date +%s%N) $RUN $CCCI_LOCK_TOKEN" >>"$LOG"; ccci-runstate incr deploy-count >/dev/null || exit 5; sleep 0.02; echo "leave $(date +%s%N) $RUN" >>"$LOG"`

// TestContention starts 20 ccci-lock runs of one domain together (real
// processes) and proves they were strictly serialized: in the shared log
// every enter is followed by its own leave before anyone else enters, the
// timestamps never go back, every run got in exactly once, and the fencing
// tokens grow with each holder. Each run counts its deploy in its own run's
// state (ccci-runstate init, then incr deploy-count under the lock), and
// afterwards every one of the 20 reads deploy-count = 1.
func TestContention(t *testing.T) {
	const n = 20
	u := uniq("c")
	b := newBed(t, "^"+u+"-")
	domain := u + "-1.ci.test"
	log := filepath.Join(b.dir, "log")
	cmds := make([]*exec.Cmd, n)
	errs := make([]*bytes.Buffer, n)
	for i := range cmds {
		run := fmt.Sprintf("run%02d", i)
		kv := []string{"RUN=" + run, "LOG=" + log, "CCCI_RUN_ID=" + run}
		if st, out := b.run(kv, "ccci-runstate", "init"); st != 0 {
			t.Fatalf("%s: ccci-runstate init: exit %d: %s", run, st, out)
		}
		cmds[i] = b.cmd(kv, "ccci-lock", "--grace", "1s", domain, "--", "sh", "-c", counted)
		errs[i] = &bytes.Buffer{}
		cmds[i].Stderr = errs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waited := 0
	for i, c := range cmds {
		if st := waitCmd(t, c, deadline); st != 0 {
			t.Errorf("run%02d: exit %d\n%s", i, st, errs[i])
		}
		if strings.Contains(errs[i].String(), "in flight") {
			waited++
		}
	}
	b2, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	checkSerial(t, string(b2), n, true)
	for i := range n {
		run := fmt.Sprintf("run%02d", i)
		if st, out := b.run(nil, "ccci-runstate", "--run", run, "get", "deploy-count"); st != 0 || out != "1\n" {
			t.Errorf("%s: ccci-runstate get deploy-count: exit %d, %q, want 1", run, st, out)
		}
	}
	// Without contention the test would prove nothing.
	if waited == 0 {
		t.Fatalf("no run ever waited: the %d runs did not contend", n)
	}
	t.Logf("%d runs serialized, %d of them waited for another", n, waited)
}

// checkSerial checks a log of enter/leave lines: strictly alternating, each
// leave the enter's own run, time never going back, each of n runs exactly
// once, and (if tokens) the fencing token of each entry above the last.
func checkSerial(t *testing.T, log string, n int, tokens bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) != 2*n {
		t.Fatalf("log has %d lines, want %d:\n%s", len(lines), 2*n, log)
	}
	seen := map[string]bool{}
	var last int64
	var lastToken uint64
	for i := 0; i < len(lines); i += 2 {
		in, out := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(in) < 3 || in[0] != "enter" || len(out) != 3 || out[0] != "leave" || in[2] != out[2] {
			t.Fatalf("line %d: not an enter followed by its own leave (overlap?):\n%s\n%s\nlog:\n%s", i+1, lines[i], lines[i+1], log)
		}
		if seen[in[2]] {
			t.Fatalf("run %s entered twice:\n%s", in[2], log)
		}
		seen[in[2]] = true
		t0, _ := strconv.ParseInt(in[1], 10, 64)
		t1, _ := strconv.ParseInt(out[1], 10, 64)
		if t0 < last || t1 < t0 {
			t.Fatalf("line %d: time goes back (holders overlapped):\n%s", i+1, log)
		}
		last = t1
		if tokens {
			if len(in) != 4 {
				t.Fatalf("line %d: no token: %s", i+1, lines[i])
			}
			tok, err := strconv.ParseUint(in[3], 10, 64)
			if err != nil || tok <= lastToken {
				t.Fatalf("line %d: token %s not above the last (%d):\n%s", i+1, in[3], lastToken, log)
			}
			lastToken = tok
		}
	}
}

// TestDeployContention starts 4 ccci-deploy runs of one domain together on
// the real swarm: they deploy one after the other (the test commands never
// overlap), each prints deploy-count = 1 for its own run, and afterwards
// nothing is left: no object, no env file, no leak for ccci-janitor --check.
func TestDeployContention(t *testing.T) {
	testbed(t)
	t.Parallel()
	const n = 4
	u := uniq("e")
	b := newBed(t, "^"+u+"-")
	b.reapAtEnd()
	domain := u + "-1.ci.test"
	log := filepath.Join(b.dir, "log")
	// The test command also proves its app is deployed while it runs.
	test := critical + `; docker service inspect "${STACK_NAME}_app" >/dev/null`
	cmds := make([]*exec.Cmd, n)
	errs := make([]*bytes.Buffer, n)
	for i := range cmds {
		run := fmt.Sprintf("drun%d", i)
		cmds[i] = b.cmd([]string{"RUN=" + run, "LOG=" + log, "CCCI_RUN_ID=" + run},
			"ccci-deploy", "--recipe", b.recipe, "--grace", "2s", domain, "--", "sh", "-c", test)
		errs[i] = &bytes.Buffer{}
		cmds[i].Stderr = errs[i]
	}
	start := time.Now()
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		st := waitCmd(t, c, 5*time.Minute)
		out := errs[i].String()
		if st != 0 {
			t.Errorf("drun%d: exit %d\n%s", i, st, out)
		}
		if strings.Count(out, "\ndeploy-count = 1\n") != 1 {
			t.Errorf("drun%d: want one deploy-count = 1 line:\n%s", i, out)
		}
	}
	t.Logf("%d deploys of one domain in %v", n, time.Since(start).Round(time.Millisecond))
	lb, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	checkSerial(t, string(lb), n, true)
	// What each step's EXIT trap does (scripts/drone-step.sh).
	for i := range n {
		if st, out := b.run(nil, "ccci-runstate", "--run", fmt.Sprintf("drun%d", i), "rm", "--force"); st != 0 {
			t.Errorf("ccci-runstate rm: exit %d: %s", st, out)
		}
	}
	b.nothingLeft(domain)
	b.clean("after the deploys")
}
