package janitor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExclusive: the janitor lock is opened as the app locks are. One that
// another user planted (or a symlink out of the lock dir) is an error
// naming the file, never held for them, never "another janitor"; ours is
// taken, and a second try sees it held with our pid.
func TestExclusive(t *testing.T) {
	dir := t.TempDir()
	release, other, err := Exclusive(dir)
	if err != nil || other != "" {
		t.Fatalf("Exclusive = %q, %v; want it taken", other, err)
	}
	if _, other, err := Exclusive(dir); err != nil || other != "pid "+strconv.Itoa(os.Getpid()) {
		t.Errorf("second Exclusive = %q, %v; want held by pid %s", other, err, strconv.Itoa(os.Getpid()))
	}
	release()

	for _, tc := range []struct {
		name  string
		plant func(path string) error
		want  string
	}{
		{"symlink", func(p string) error { return os.Symlink(filepath.Join(dir, "elsewhere"), p) }, "symlink"},
		{"another user's", func(p string) error {
			if err := os.WriteFile(p, nil, 0o666); err != nil {
				return err
			}
			return os.Chown(p, 65534, 65534)
		}, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "another user's" && os.Geteuid() != 0 {
				t.Fatal("chown to another user needs root: run the suite as root")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, ExclusiveName)
			if err := tc.plant(path); err != nil {
				t.Fatal(err)
			}
			release, other, err := Exclusive(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Exclusive = %q, %v; want an error naming %s and %q", other, err, path, tc.want)
			}
			if release != nil || other != "" {
				t.Errorf("Exclusive held or deferred to a planted file: other %q", other)
			}
		})
	}
}
