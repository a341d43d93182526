package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Incr adds one to counter name and returns the new value. Callers are
// serialized by an exclusive flock on locks/<name>; the new value is written
// to a temp file, fsynced and renamed over state/<name>, so a crash at any
// moment leaves either the old value or the new one (TestIncrKilled).
// It creates the run directory if missing.
func (r *Run) Incr(name string) (int64, error) {
	p, err := r.Path(name)
	if err != nil {
		return 0, err
	}
	if err := r.ensure(); err != nil {
		return 0, err
	}
	lf, err := os.OpenFile(filepath.Join(r.Dir, locksName, name), os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return 0, err
	}
	defer lf.Close() // closing releases the flock
	if err := flock(lf, lockEX); err != nil {
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
	if old, _ := filepath.Glob(filepath.Join(tmp, name+"~*")); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	n++
	if err := writeAtomic(tmp, p, []byte(strconv.FormatInt(n, 10)+"\n")); err != nil {
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
	f, err := os.OpenFile(p, os.O_RDONLY|noFollow, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
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

// writeAtomic replaces dst with data: temp file in tmpDir (same file
// system), fsync, rename, fsync of dst's directory. Why the fsync before the
// rename: without it a crash can leave the new name on an empty file.
func writeAtomic(tmpDir, dst string, data []byte) error {
	f, err := os.CreateTemp(tmpDir, filepath.Base(dst)+"~*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
