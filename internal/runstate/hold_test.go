package runstate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// TestHoldLiveAfterRemove: a HoldLive that waits while a remover holds the
// live-lock exclusively, and wakes to find the run removed, fails with
// ErrRemoved instead of holding a lock on a deleted file.
func TestHoldLiveAfterRemove(t *testing.T) {
	r, _ := Open(filepath.Join(t.TempDir(), "runs"), "h")
	if err := r.Init(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(r.Dir, liveName)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := tryExclusive(f); held || err != nil {
		t.Fatalf("tryExclusive: %v %v", held, err)
	}
	done := make(chan error, 1)
	go func() {
		release, err := r.HoldLive()
		if err == nil {
			release()
		}
		done <- err
	}()
	// Wait (with a deadline) until the kernel lists HoldLive's flock on
	// this inode as blocked: /proc/locks marks waiters with "->".
	st, _ := f.Stat()
	ino := fmt.Sprintf(":%d ", st.Sys().(*syscall.Stat_t).Ino)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if blockedOn(ino) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("HoldLive never blocked on the live-lock")
		}
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	f.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("HoldLive = %v; want ErrRemoved", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("HoldLive did not wake when the lock was released")
	}
}

func blockedOn(ino string) bool {
	b, _ := os.ReadFile("/proc/locks")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "-> FLOCK") && strings.Contains(l, ino) {
			return true
		}
	}
	return false
}

// TestHoldCurrent: HoldCurrent finds the run as RunID does ($CCCI_RUN_ID,
// else $DRONE_BUILD_NUMBER) and holds its live-lock until released; with no
// run id, an invalid one or a run never initialised it holds nothing and
// creates nothing.
func TestHoldCurrent(t *testing.T) {
	for _, c := range []struct {
		name string
		env  []string
		want string // the run held; "" for none
	}{
		{"run id", []string{"CCCI_RUN_ID=a"}, "a"},
		{"drone", []string{"DRONE_BUILD_NUMBER=b"}, "b"},
		{"run id wins", []string{"DRONE_BUILD_NUMBER=b", "CCCI_RUN_ID=a"}, "a"},
		{"empty run id", []string{"CCCI_RUN_ID=", "DRONE_BUILD_NUMBER=b"}, "b"},
		{"none", nil, ""},
		{"invalid", []string{"CCCI_RUN_ID=a;b"}, ""},
		{"not initialised", []string{"CCCI_RUN_ID=c"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := filepath.Join(t.TempDir(), "runs")
			for _, id := range []string{"a", "b"} {
				r, _ := Open(runs, id)
				if err := r.Init(t.TempDir()); err != nil {
					t.Fatal(err)
				}
			}
			var stderr bytes.Buffer
			env := &applet.Env{Environ: append([]string{"CCCI_RUNS_DIR=" + runs}, c.env...), Stderr: &stderr}
			release := HoldCurrent(env, "lock")
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
			for _, id := range []string{"a", "b", "c"} {
				r, _ := Open(runs, id)
				if live, err := r.Live(0); err != nil || live != (id == c.want) {
					t.Errorf("run %s: live=%v, %v; want %v", id, live, err, id == c.want)
				}
			}
			if _, err := os.Lstat(filepath.Join(runs, "c")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run c was created: %v", err)
			}
			release()
			r, _ := Open(runs, "a")
			if live, _ := r.Live(0); live {
				t.Errorf("run a live after release")
			}
		})
	}
}

// TestHoldCurrentFails: an initialised run whose live-lock cannot be held
// (here a directory stands at live.lock) is said on stderr, not passed over.
func TestHoldCurrentFails(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	r, _ := Open(runs, "a")
	if err := r.Init(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(runs, "a", "live.lock")
	if err := os.Remove(live); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(live, 0o700); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	release := HoldCurrent(&applet.Env{Environ: []string{"CCCI_RUNS_DIR=" + runs, "CCCI_RUN_ID=a"}, Stderr: &stderr}, "lock")
	release()
	if got := stderr.String(); !strings.HasPrefix(got, "ccci-lock: run a: cannot hold its live-lock") {
		t.Errorf("stderr %q; want the run named and why", got)
	}
}
