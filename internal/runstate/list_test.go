package runstate

import (
	"os"
	"path/filepath"
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
