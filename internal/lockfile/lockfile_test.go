package lockfile

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFlock: two open file descriptions of one file exclude each other as
// flock(2) says; a try on a held lock is EWOULDBLOCK, and LOCK_UN frees it.
func TestFlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.lock")
	open := func() int {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	a, b := open(), open()
	for _, step := range []struct {
		fd, how int
		want    error
	}{
		{a, unix.LOCK_SH, nil},
		{b, unix.LOCK_SH | unix.LOCK_NB, nil},
		{b, unix.LOCK_EX | unix.LOCK_NB, unix.EWOULDBLOCK},
		{a, unix.LOCK_UN, nil},
		{b, unix.LOCK_EX | unix.LOCK_NB, nil},
		{a, unix.LOCK_SH | unix.LOCK_NB, unix.EWOULDBLOCK},
		{b, unix.LOCK_UN, nil},
		{a, unix.LOCK_EX, nil},
	} {
		if err := Flock(step.fd, step.how); err != step.want {
			t.Fatalf("Flock(fd %d, %#x) = %v; want %v", step.fd, step.how, err, step.want)
		}
	}
}
