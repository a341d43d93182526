package flock

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// kernelHolders reads /proc/locks as lslocks does: FLOCK lines of the
// file's dev and inode, waiters ("->") and other lock kinds left out.
func TestKernelHoldersParse(t *testing.T) {
	ls, err := parseLocks([]byte(`1: FLOCK  ADVISORY  WRITE 100 fd:01:42 0 EOF
1: -> FLOCK  ADVISORY  WRITE 101 fd:01:42 0 EOF
2: POSIX  ADVISORY  WRITE 102 fd:01:42 0 EOF
3: OFDLCK ADVISORY  WRITE -1 fd:01:42 0 EOF
4: FLOCK  ADVISORY  READ 103 fd:01:42 0 EOF
5: FLOCK  ADVISORY  WRITE 104 fd:01:43 0 EOF
6: FLOCK  ADVISORY  WRITE 105 fe:01:42 0 EOF
7: FLOCK  ADVISORY  READ 106 103:02:42 0 EOF
`))
	if err != nil {
		t.Fatal(err)
	}
	hs := holdersOf(ls, unix.Mkdev(0xfd, 1), 42)
	if len(hs) != 2 || hs[0] != (KernelHolder{PID: 100}) || hs[1] != (KernelHolder{PID: 103, Shared: true}) {
		t.Errorf("kernelHolders = %+v, want pid 100 (write) and 103 (read)", hs)
	}
	// Majors past two hex digits are printed unpadded.
	if hs := holdersOf(ls, unix.Mkdev(0x103, 2), 42); len(hs) != 1 || hs[0].PID != 106 {
		t.Errorf("kernelHolders(103:02) = %+v, want pid 106", hs)
	}
}

// A real flock(1) holding a lockfile whose record names an earlier ccci
// holder (pid gone): the kernel's holder wins, marked Foreign, with its
// pid and command; a record naming the kernel's holder is kept as is.
func TestKernelTruthFlock1(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Fatalf("flock(1) is needed: %v", err)
	}
	dir := t.TempDir()
	b := New(dir)
	path := b.Path("old.example.org")
	stale := lock.Holder{Run: "41", PID: deadPID(t), Host: hostname(), Since: time.Now().Add(-time.Hour)}
	os.WriteFile(path, lock.EncodeRecord(stale), 0o644)

	ready := filepath.Join(dir, "ready")
	cmd := exec.Command("flock", path, "sh", "-c", "touch "+ready+"; exec sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal("flock(1) never took the lock")
		}
	}

	held, h, err := b.Probe(context.Background(), "old.example.org")
	if err != nil || !held || h == nil {
		t.Fatalf("Probe = %v, %+v, %v; want held", held, h, err)
	}
	if !h.Foreign || h.PID != cmd.Process.Pid || !strings.HasPrefix(h.Cmd, "flock "+path) || h.Run != "" {
		t.Errorf("holder = %+v, want Foreign, pid %d, cmd flock %s ...", h, cmd.Process.Pid, path)
	}
	if d := lock.Describe(h); !strings.Contains(d, "not a ccci run") {
		t.Errorf("Describe = %q, want it to say not a ccci run", d)
	}

	fd, _, err := openLock(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	own := lock.Holder{Run: "42", PID: cmd.Process.Pid, Host: hostname()}
	if got := kernelTruth(fd, &own); got != &own {
		t.Errorf("kernelTruth with the holder's own record = %+v, want the record", got)
	}
}

func hostname() string { h, _ := os.Hostname(); return h }

// deadPID is the pid of a process that has exited and been waited for.
func deadPID(t *testing.T) int {
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}
