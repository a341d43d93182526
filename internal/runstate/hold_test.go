package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
