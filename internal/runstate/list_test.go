package runstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// One run whose live-lock cannot be probed (a planted FIFO, symlink or
// directory) is skipped and reported by id; every other run is still
// listed, and the open of a FIFO does not hang.
func TestListSkipsBadEntry(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	for _, id := range []string{"a", "fifo", "link", "z"} {
		r, _ := Open(runs, id)
		if err := r.Init(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(runs, "fifo", liveName))
	if err := unix.Mkfifo(filepath.Join(runs, "fifo", liveName), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(runs, "link", liveName))
	if err := os.Symlink("/etc/passwd", filepath.Join(runs, "link", liveName)); err != nil {
		t.Fatal(err)
	}
	infos, err := List(runs, time.Hour)
	var ids []string
	for _, i := range infos {
		ids = append(ids, i.ID)
	}
	if len(ids) != 2 || ids[0] != "a" || ids[1] != "z" {
		t.Errorf("listed %v, want [a z]", ids)
	}
	bad := EntryErrors(err)
	if len(bad) != 2 || bad[0].ID != "fifo" || bad[1].ID != "link" {
		t.Fatalf("error %v; want the runs fifo and link skipped", err)
	}
}

// A state file, a counter's lock file or live.lock hard-linked to a file
// outside the run is refused: its content never shows in an error and its
// mtime is never touched.
func TestHardLinksRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(r *Run) string
		use  func(r *Run) error
	}{
		{"state", func(r *Run) string { p, _ := r.Path("n"); return p }, func(r *Run) error { _, err := r.Get("n"); return err }},
		{"state by incr", func(r *Run) string { p, _ := r.Path("n"); return p }, func(r *Run) error { _, err := r.Incr("n"); return err }},
		{"counter lock", func(r *Run) string { return filepath.Join(r.Dir, locksName, "n") }, func(r *Run) error { _, err := r.Incr("n"); return err }},
		{"live.lock", func(r *Run) string { return filepath.Join(r.Dir, liveName) }, func(r *Run) error {
			rel, err := r.HoldLive()
			if err == nil {
				rel()
			}
			return err
		}},
		{"live.lock by probe", func(r *Run) string { return filepath.Join(r.Dir, liveName) }, func(r *Run) error { _, err := r.Live(0); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := Open(filepath.Join(t.TempDir(), "runs"), "h")
			if err := r.Init(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(t.TempDir(), "secret")
			os.WriteFile(outside, []byte("s3cret\n"), 0o600)
			old := time.Now().Add(-time.Hour)
			os.Chtimes(outside, old, old)
			os.Remove(tc.at(r))
			if err := os.Link(outside, tc.at(r)); err != nil {
				t.Fatal(err)
			}
			err := tc.use(r)
			if err == nil || !strings.Contains(err.Error(), "hard links") {
				t.Errorf("err = %v; want refused for its hard links", err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the outside file's content: %v", err)
			}
			fi, _ := os.Stat(outside)
			if b, _ := os.ReadFile(outside); string(b) != "s3cret\n" || !fi.ModTime().Equal(old) {
				t.Errorf("outside file changed: %q, mtime %v", b, fi.ModTime())
			}
		})
	}
}
