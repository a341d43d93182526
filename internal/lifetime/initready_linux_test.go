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

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// initGate holds the Go init (this test binary re-executed) where it has
// set up its signals and not yet told Run (initMain's signalsSet): it writes
// GATE.waiting, then waits, at most deadline, for GATE to exist.
func initGate(gate string) {
	os.WriteFile(gate+".waiting", []byte(strconv.Itoa(os.Getpid())), 0o644)
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(gate); err == nil {
			return
		}
	}
}

// ready reports whether the init has said it takes SIGTERM, now.
func ready(hold *os.File) bool { return awaitInit(hold, 0) }

// TestInitReady: the funnel sends SIGTERM to the init only once it is
// ready (awaitInit). Before, a SIGTERM in the init's first moments was
// dropped by the kernel (a namespace's PID 1 gets only the signals it
// catches or blocks) and the run waited out its whole grace for SIGKILL,
// the command never seeing a SIGTERM: a deadline test under -race load
// hit that. The Go init, held at a gate once its signals are set up, must
// not say it is ready yet (it would, were the race pipe closed before the
// gate), and a SIGTERM sent to it there must not be lost: through the
// gate it starts the command and forwards the SIGTERM, so it exits with
// the command's 143 (a Go init without its Notify yet would die of the
// SIGTERM itself, starting nothing). The tiny init, once ready, blocks
// SIGTERM (it reads signals from a signalfd), so a SIGTERM is queued, not
// dropped; that it blocks before it says so is in init.c's order alone:
// the window is too short to observe from here.
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
			// The command waits for $GO (bounded: 30 s), so the init is
			// alive while it is looked at; it ends 7 unless signalled.
			env = append(env, "GO="+filepath.Join(dir, "go"))
			cmd := `i=0; while [ ! -e "$GO" ] && [ $i -lt 3000 ]; do i=$((i+1)); sleep 0.01; done; exit 7`
			p, m, hold, err := l.start(Cmd{Argv: []string{"sh", "-c", cmd}, Env: env}, stdio)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Close()
			want := 7
			if tc.gate {
				waitUntil(t, "the init at the gate", func() bool { _, err := os.Stat(gate + ".waiting"); return err == nil })
				if ready(hold) {
					t.Fatal("the init says it is ready before it passed its gate")
				}
				if err := p.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				want = 143 // 128+SIGTERM, the command's
				os.WriteFile(gate, nil, 0o644)
			}
			waitUntil(t, "the init to be ready", func() bool { return ready(hold) })
			if !tc.gate && m != modePgroup && !blocks(p.Pid, syscall.SIGTERM) {
				t.Errorf("the tiny init is ready but does not block SIGTERM")
			}
			if !tc.gate {
				// Only now: with the SIGTERM already sent, a command
				// let go at once could exit 7 before the init (in the
				// process-group fallback, scanning /proc) forwards it.
				// It must end of the SIGTERM, not of $GO.
				os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
			}
			ws, err := p.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if st := applet.WaitStatus(ws); st != want {
				t.Errorf("init exit %d, want %d", st, want)
			}
		})
	}
}

// TestAwaitInit: awaitInit says ready exactly when the pipe's read end is
// closed, waiting for it at most its limit.
func TestAwaitInit(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if awaitInit(w, 20*time.Millisecond) {
		t.Error("ready while the read end is open")
	}
	go func() {
		time.Sleep(20 * time.Millisecond) // the close comes while it waits
		r.Close()
	}()
	if !awaitInit(w, deadline) {
		t.Error("not ready after the read end was closed")
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
