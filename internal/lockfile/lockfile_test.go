package lockfile

import (
	"os"
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

// TestSameFile: a path names an open fd's file while that very inode is
// there; unlinked, replaced by another file, or a symlink to it (never
// followed), it does not; only a failed lstat other than ENOENT is an error.
func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.lock")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ino, err := InodeOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func() error
		path   string
		want   bool
	}{
		{"unchanged", nil, path, true},
		{"symlink to it", nil, link, false},
		{"unlinked", func() error { return os.Remove(path) }, path, false},
		{"replaced", func() error { return os.WriteFile(path, nil, 0o600) }, path, false},
	} {
		if tc.change != nil {
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := SameFile(ino, tc.path); got != tc.want || err != nil {
			t.Errorf("%s: SameFile = %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
}
