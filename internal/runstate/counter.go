package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/atomicfile"
	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
)

// Incr adds one to counter name and returns the new value. Callers are
// serialized by an exclusive flock on locks/<name>; the new value is written
// to a temp file, fsynced and renamed over state/<name>, so a crash at any
// moment leaves either the old value or the new one (TestIncrKilled,
// TestIncrKilledMidWrite).
// It creates the run directory if missing.
func (r *Run) Incr(name string) (int64, error) {
	p, err := r.Path(name)
	if err != nil {
		return 0, err
	}
	if err := r.ensure(); err != nil {
		return 0, err
	}
	lf, err := os.OpenFile(filepath.Join(r.Dir, locksName, name), os.O_RDWR|os.O_CREATE|noFollow|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return 0, err
	}
	defer lf.Close() // closing releases the flock
	if err := regular(lf); err != nil {
		return 0, err
	}
	if err := lockfile.Flock(int(lf.Fd()), lockEX); err != nil {
		return 0, &os.PathError{Op: "flock", Path: lf.Name(), Err: err}
	}
	n, err := readCounter(p)
	if err != nil {
		return 0, err
	}
	tmp := filepath.Join(r.Dir, tmpName)
	// Under the lock no other incr of name is writing, so any temp file of
	// name is left by one killed between write and rename: drop it. '~' is
	// not allowed in state names, so name~* matches no other name's temps.
	if old, _ := filepath.Glob(filepath.Join(tmp, atomicfile.TempPattern(name))); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	n++
	if err := atomicfile.WriteHooked(tmp, p, []byte(strconv.FormatInt(n, 10)+"\n"), 0o600, r.beforeRename); err != nil {
		return 0, err
	}
	return n, nil
}

// Get returns counter name; one never incremented (or a run that does not
// exist) reads 0. Renames are atomic, so no lock is needed to read.
func (r *Run) Get(name string) (int64, error) {
	p, err := r.Path(name)
	if err != nil {
		return 0, err
	}
	return readCounter(p)
}

func readCounter(p string) (int64, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|noFollow|unix.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := regular(f); err != nil {
		return 0, err
	}
	b := make([]byte, 64)
	k, err := f.Read(b)
	if err != nil && k == 0 {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	s := strings.TrimSpace(string(b[:k]))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: not a counter: %q", p, s)
	}
	return n, nil
}
