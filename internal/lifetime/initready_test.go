package lifetime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// initGate holds the Go init (this test binary re-executed) before
// InitMain while $LIFETIME_INIT_GATE is set: it writes GATE.waiting, then
// waits, at most deadline, for GATE to exist (TestInitReady).
func initGate() {
	gate := os.Getenv("LIFETIME_INIT_GATE")
	if gate == "" {
		return
	}
	os.WriteFile(gate+".waiting", []byte(strconv.Itoa(os.Getpid())), 0o644)
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(gate); err == nil {
			return
		}
	}
}

// TestInitReady: the funnel sends SIGTERM to the init only once initReady
// says the init takes it. Before, the kernel would drop it (a namespace's
// PID 1 gets only the signals it catches or blocks) and the run would wait
// out its whole grace for SIGKILL, the command never seeing a SIGTERM: a
// deadline test under -race load hit that (the deadline fired while the
// init was still starting). Here a Go init held at a gate before InitMain
// is not ready; through the gate, it becomes ready. The tiny init, ready,
// blocks SIGTERM (it reads signals from a signalfd), so a SIGTERM then is
// queued, not dropped.
func TestInitReady(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		gate bool
	}{
		{"go init", []string{"CCCI_GO_INIT=1"}, true},
		{"tiny init", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			gate := filepath.Join(dir, "gate")
			env := append(os.Environ(), tc.env...)
			if tc.gate {
				env = append(env, "LIFETIME_INIT_GATE="+gate)
			}
			l := Begin(context.Background(), Options{Prog: "lock", Grace: time.Minute})
			defer l.End()
			var stdio [3]*os.File
			for i := range stdio {
				f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				stdio[i] = f
			}
			// The command waits for $GO (bounded), so the init is
			// alive while it is looked at.
			env = append(env, "GO="+filepath.Join(dir, "go"))
			cmd := `i=0; while [ ! -e "$GO" ] && [ $i -lt 3000 ]; do i=$((i+1)); sleep 0.01; done; exit 7`
			p, m, hold, err := l.start(Cmd{Argv: []string{"sh", "-c", cmd}, Env: env}, stdio)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Close()
			if tc.gate {
				waitUntil(t, "the init at the gate", func() bool { _, err := os.Stat(gate + ".waiting"); return err == nil })
				if initReady(hold) {
					t.Fatal("initReady before the init passed its gate")
				}
				os.WriteFile(gate, nil, 0o644)
			}
			waitUntil(t, "the init to be ready", func() bool { return initReady(hold) })
			if !tc.gate && m != modePgroup && !blocks(p.Pid, syscall.SIGTERM) {
				t.Errorf("the tiny init is ready but does not block SIGTERM")
			}
			os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
			ps, err := p.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if st := exitStatus(ps); st != 7 {
				t.Errorf("init exit %d, want the command's 7", st)
			}
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(deadline); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
	}
}

// blocks reports whether pid blocks sig (/proc/PID/status SigBlk), false
// once the process is gone.
func blocks(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(sig-1)) != 0
		}
	}
	return false
}
