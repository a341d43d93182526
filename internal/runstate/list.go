package runstate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// Info is one run as List sees it.
type Info struct {
	ID   string        `json:"run"`
	Dir  string        `json:"dir"`
	Live bool          `json:"live"` // Held, or younger than the minimum age
	Held bool          `json:"held"` // a process holds its live-lock
	Age  time.Duration `json:"-"`    // since its last activity
	Size int64         `json:"size"` // bytes, symlinks not followed
}

// List returns the runs under runsDir, sorted by id, probing each one's
// liveness. Entries that are not valid run ids or not directories are not
// runs and are skipped. A missing runsDir holds no runs. A run that cannot
// be probed is left out and reported in the error (EntryErrors, joined)
// while the others are still returned.
func List(runsDir string, minAge time.Duration) ([]Info, error) {
	if err := checkRunsDir(runsDir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	ents, err := os.ReadDir(runsDir)
	if err != nil {
		return nil, err
	}
	var out []Info
	var bad []error
	for _, e := range ents {
		if !e.IsDir() || names.RunID(e.Name()) != nil {
			continue
		}
		r, err := Open(runsDir, e.Name())
		if err != nil {
			return nil, err
		}
		held, age, err := r.probe()
		if errors.Is(err, os.ErrNotExist) {
			continue // removed while we looked
		}
		if err != nil {
			bad = append(bad, &EntryError{ID: r.ID, Dir: r.Dir, Err: err})
			continue
		}
		out = append(out, Info{ID: r.ID, Dir: r.Dir, Live: held || age < minAge, Held: held, Age: age, Size: size(r.Dir)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errors.Join(bad...)
}

// EntryError is a run List could not look at. List skips it and lists the
// rest, so one planted entry cannot hide every other run (and a leak) from
// ls and the janitor; its error joins one EntryError per skipped run
// (TestListSkipsBadEntry).
type EntryError struct {
	ID, Dir string
	Err     error
}

func (e *EntryError) Error() string { return "run " + e.ID + ": " + e.Err.Error() }
func (e *EntryError) Unwrap() error { return e.Err }

// size sums the sizes of everything under dir; WalkDir lstats and never
// follows a symlink.
func size(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished meanwhile: best effort
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// EntryErrors returns the EntryErrors joined in err, nil if err holds any
// other error.
func EntryErrors(err error) []*EntryError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []*EntryError
	for _, e := range errs {
		ee, ok := e.(*EntryError)
		if !ok {
			return nil
		}
		out = append(out, ee)
	}
	return out
}
