package atomicfile

import (
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
