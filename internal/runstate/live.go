package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
	"golang.org/x/sys/unix"
)

// noFollow makes an open fail on a symlink: run state is never reached
// through one.
const noFollow = unix.O_NOFOLLOW

const (
	lockSH = unix.LOCK_SH
	lockEX = unix.LOCK_EX
)

// ErrLive is returned by Remove for a run that is live.
var ErrLive = errors.New("run is live")

// ErrRemoved is returned by HoldLive when the run was removed while it
// waited for the live-lock (a janitor reaped it as dead).
var ErrRemoved = errors.New("run directory was removed while waiting for its live-lock")

// HoldLive marks the run live until release is called (or the process
// dies): a shared flock on <run>/live.lock, on an fd opened O_CLOEXEC (Go's
// default) and O_NOFOLLOW, so no child inherits it. It creates the run
// directory if missing. The lock file's mtime is touched on acquire and on
// release: that is the run's last activity, from which Live measures age.
// If a remover held the lock meanwhile and deleted the run, it fails with
// ErrRemoved (TestHoldLiveAfterRemove).
func (r *Run) HoldLive() (release func(), err error) {
	if err := r.ensure(); err != nil {
		return nil, err
	}
	p := filepath.Join(r.Dir, liveName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|noFollow|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	if err := regular(f); err != nil {
		f.Close()
		return nil, err
	}
	ino, err := lockfile.InodeOf(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	// Blocks only while a prober holds it exclusively (Live, Remove).
	if err := lockfile.Flock(int(f.Fd()), lockSH); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: p, Err: err}
	}
	if same, err := lockfile.SameFile(ino, p); err != nil || !same {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("run %s: %w", r.ID, ErrRemoved)
	}
	touch(f)
	return func() { touch(f); f.Close() }, nil
}

func touch(f *os.File) {
	now := time.Now()
	tv := unix.NsecToTimeval(now.UnixNano())
	unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
}

// Live reports whether the run is live: its live-lock is held by someone
// (an exclusive non-blocking flock fails), or its last activity is more
// recent than minAge (the gap between init and the first command). A run
// that does not exist is not live.
func (r *Run) Live(minAge time.Duration) (bool, error) {
	held, age, err := r.probe()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return held || age < minAge, nil
}

// probe reports whether the live-lock is held and the run's age (since the
// live-lock's mtime, or the directory's when there is no live-lock yet).
func (r *Run) probe() (held bool, age time.Duration, err error) {
	fi, err := os.Lstat(r.Dir)
	if err != nil {
		return false, 0, err
	}
	if !fi.IsDir() {
		return false, 0, &os.PathError{Op: "open", Path: r.Dir, Err: errors.New("not a directory")}
	}
	// O_NONBLOCK: a FIFO planted as live.lock must not hang the open.
	f, err := os.OpenFile(filepath.Join(r.Dir, liveName), os.O_RDONLY|noFollow|unix.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, time.Since(fi.ModTime()), nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	if err := regular(f); err != nil {
		return false, 0, err
	}
	held, err = tryExclusive(f)
	if err != nil {
		return false, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return false, 0, err
	}
	return held, time.Since(st.ModTime()), nil
}

// regular refuses an open state file that is not a regular file with one
// link: a FIFO or device planted in a run dir, or a hard link to a file
// elsewhere, whose content would show in errors and whose mtime touch
// would change (TestHardLinksRefused), as the lockfile code refuses them.
func regular(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		fi, _ := f.Stat()
		return &os.PathError{Op: "open", Path: f.Name(), Err: fmt.Errorf("not a regular file (%s); refusing it", fi.Mode().Type())}
	case st.Nlink > 1:
		return &os.PathError{Op: "open", Path: f.Name(), Err: fmt.Errorf("has %d hard links; refusing it", st.Nlink)}
	}
	return nil
}

// tryExclusive takes f's flock exclusively without blocking; it reports
// held=true if someone else has it. On success the caller holds it until f
// is closed.
func tryExclusive(f *os.File) (held bool, err error) {
	err = lockfile.Flock(int(f.Fd()), lockEX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return true, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return false, nil
}

// HoldCurrent holds the live-lock of the environment's run (RunID:
// $CCCI_RUN_ID, else $DRONE_BUILD_NUMBER) if that run was initialised, so
// that an applet doing work for a run (ccci-lock) keeps it live without
// creating run directories for callers that never used ccci-runstate
// (TestHoldCurrent). An initialised run whose live-lock cannot be held is
// reported on stderr under prog's name: a janitor may then take the run
// for dead. release is never nil.
func HoldCurrent(env *applet.Env, prog string) (release func()) {
	id, err := RunID(env)
	if err != nil {
		return func() {}
	}
	r, err := Open(Dir(env), id)
	if err != nil {
		return func() {}
	}
	if _, err := os.Lstat(r.Dir); err != nil {
		return func() {}
	}
	release, err = r.HoldLive()
	if err != nil {
		env.Errorf(prog, "run %s: cannot hold its live-lock, a janitor may take it for dead: %v", id, err)
		return func() {}
	}
	return release
}
