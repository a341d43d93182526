package runstate

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Remove deletes the run directory. Unless force, it first takes the run's
// live-lock exclusively without blocking and keeps it for the whole removal:
// a held lock, or a last activity more recent than minAge, gives ErrLive and
// removes nothing; a HoldLive that starts meanwhile waits and then gets
// ErrRemoved. A run that does not exist is already removed.
//
// force is for the run's own EXIT trap, which runs while its own
// ancestors (the step's ccci-runstate hold) hold the live-lock: minAge
// does not count, and holders that are this process or its ancestors are
// not in the way. Any other holder (an applet of the run still working, a
// build with the same run id) still gives ErrLive: a live run's state is
// never removed, --force included (tests/testdata/pipeline/rm_live.txtar).
// Without /proc/locks force cannot tell, and refuses a held lock.
//
// The walk goes by file descriptor: every directory is opened with
// openat(O_NOFOLLOW|O_DIRECTORY) relative to its parent's fd and every entry
// unlinked with unlinkat, so a symlink anywhere inside (to /, to the shared
// servers dir) is removed as a link and never followed, and a directory
// swapped for a symlink mid-walk is not entered (TestRemoveSymlinks).
func (r *Run) Remove(force bool, minAge time.Duration) error {
	parent, err := unix.Open(r.RunsDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: r.RunsDir, Err: err}
	}
	defer unix.Close(parent)

	dir, err := unix.Openat(parent, r.ID, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		// Not a directory (a planted symlink, a file): unlink the name itself.
		return unlinkAt(parent, r.ID, 0, r.Dir)
	case err != nil:
		return &os.PathError{Op: "open", Path: r.Dir, Err: err}
	}
	defer unix.Close(dir)
	if force {
		minAge = 0
	}
	release, err := r.checkDead(dir, minAge, force)
	if err != nil {
		return err
	}
	// Held exclusively until the directory is gone (unless our own
	// ancestors hold it shared).
	defer release()
	if err := removeContents(dir, r.Dir); err != nil {
		return err
	}
	return unlinkAt(parent, r.ID, unix.AT_REMOVEDIR, r.Dir)
}

// checkDead takes the live-lock exclusively and fails with ErrLive if it is
// held or the run is younger than minAge; release drops the lock. With
// own, a lock held only by this process's ancestors is not in the way
// (ownHolders); then nothing is taken.
func (r *Run) checkDead(dir int, minAge time.Duration, own bool) (release func(), err error) {
	release = func() {}
	var st unix.Stat_t
	lp := r.Dir + "/" + liveName
	fd, err := unix.Openat(dir, liveName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		err = unix.Fstat(dir, &st) // no live-lock yet: the directory's age
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: lp, Err: err}
	default:
		f := os.NewFile(uintptr(fd), lp)
		held, herr := tryExclusive(f)
		if herr == nil && held && own {
			var others []int
			if held, others = !ownHolders(lp), strangers(lp); held && len(others) > 0 {
				f.Close()
				return nil, fmt.Errorf("run %s: %w (its live-lock is held by pid %d (%s), not by this run's own process tree)", r.ID, ErrLive, others[0], comm(others[0]))
			}
		}
		if herr != nil || held {
			f.Close()
			if herr != nil {
				return nil, herr
			}
			return nil, fmt.Errorf("run %s: %w (its live-lock is held)", r.ID, ErrLive)
		}
		release = func() { f.Close() }
		err = unix.Fstat(fd, &st)
	}
	if err != nil {
		release()
		return nil, &os.PathError{Op: "stat", Path: lp, Err: err}
	}
	if age := time.Since(time.Unix(st.Mtim.Unix())); age < minAge {
		release()
		return nil, fmt.Errorf("run %s: %w (last active %v ago, under the minimum age %v)", r.ID, ErrLive, age.Round(time.Second), minAge)
	}
	return release, nil
}

// removeContents unlinks everything inside the directory open as dir.
func removeContents(dir int, path string) error {
	for {
		// Until a fresh read finds it empty: entries may appear meanwhile.
		// The dup shares dir's offset, hence the rewind.
		d, err := unix.Dup(dir)
		if err != nil {
			return &os.PathError{Op: "dup", Path: path, Err: err}
		}
		unix.CloseOnExec(d)
		f := os.NewFile(uintptr(d), path)
		if _, err := unix.Seek(d, 0, 0); err != nil {
			f.Close()
			return &os.PathError{Op: "seek", Path: path, Err: err}
		}
		ents, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return &os.PathError{Op: "readdir", Path: path, Err: err}
		}
		if len(ents) == 0 {
			return nil
		}
		for _, name := range ents {
			if err := removeAt(dir, name, path+"/"+name); err != nil {
				return err
			}
		}
	}
}

// removeAt removes name in the directory open as parent: unlinked if it is
// not a directory (symlinks included), else emptied through an fd opened
// O_NOFOLLOW and then removed.
func removeAt(parent int, name, path string) error {
	err := unix.Unlinkat(parent, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "unlinkat", Path: path, Err: err}
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "openat", Path: path, Err: err}
	}
	err = removeContents(fd, path)
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unlinkAt(parent, name, unix.AT_REMOVEDIR, path)
}

func unlinkAt(parent int, name string, flags int, path string) error {
	err := unix.Unlinkat(parent, name, flags)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return &os.PathError{Op: "unlinkat", Path: path, Err: err}
}
