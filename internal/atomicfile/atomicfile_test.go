package atomicfile

import (
	"bytes"

	"golang.org/x/sys/unix"

	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "f")
	for _, tt := range []struct {
		tmpDir string
		data   string
		perm   os.FileMode
	}{
		{"", "one\n", 0o644},
		{dir, "two\n", 0o600},
		{"", "", 0o640},
	} {
		if err := Write(tt.tmpDir, dst, []byte(tt.data), tt.perm); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dst)
		if err != nil || string(b) != tt.data {
			t.Fatalf("content %q, %v; want %q", b, err, tt.data)
		}
		fi, _ := os.Stat(dst)
		if fi.Mode().Perm() != tt.perm {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.perm)
		}
	}
	// No temp file is left behind.
	es, _ := os.ReadDir(dir)
	if len(es) != 1 {
		t.Errorf("dir holds %d entries, want only the target", len(es))
	}
	// A temp dir on another path that does not exist fails and leaves dst.
	if err := Write(filepath.Join(dir, "missing"), dst, []byte("x"), 0o644); err == nil {
		t.Error("want an error for a missing temp dir")
	}
	if b, _ := os.ReadFile(dst); string(b) != "" {
		t.Errorf("dst changed to %q by a failed write", b)
	}
}

// A write that fails part-way (a full disk; here RLIMIT_FSIZE, which fails
// it with EFBIG as ENOSPC would) returns the error and leaves dst's old
// content: never an empty or truncated file in its place.
func TestWriteFullDisk(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "counter")
	if err := Write("", dst, []byte("41\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = 8
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	err := Write("", dst, bytes.Repeat([]byte("9"), 4096), 0o600)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Error("Write past the file size limit returned nil")
	}
	if b, rerr := os.ReadFile(dst); string(b) != "41\n" {
		t.Errorf("dst holds %q (%v) after a failed write, want the old %q", b, rerr, "41\n")
	}
}
