package flock

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
)

// Acquire implements lock.Backend: try at once; if held, report the holder
// and block in flock(2) until it is ours, the wait times out or ctx ends.
func (b *Backend) Acquire(ctx context.Context, r lock.Request) (lock.Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.Probe && r.NonBlock {
		return b.tryProbe(r)
	}
	// A probe (the janitor, reaping a lockfile it has just listed) opens
	// without O_CREAT, which would take the lock dir's inode lock for every
	// open; a lockfile gone meanwhile is an error wrapping os.ErrNotExist.
	if !r.Probe {
		if err := ensureDir(b.dir); err != nil {
			return nil, err
		}
		if err := checkDir(b.dir); err != nil {
			return nil, err
		}
	}
	path := b.Path(r.Domain)
	how := unix.LOCK_EX
	if r.Shared {
		how = unix.LOCK_SH
	}
	notify := r.Notify
	if notify == nil {
		notify = func(lock.Event) {}
	}
	start := time.Now()
	var timeout <-chan time.Time
	if r.Wait > 0 && !r.NonBlock {
		t := time.NewTimer(r.Wait)
		defer t.Stop()
		timeout = t.C
	}
	var still *time.Ticker // progress only; the lock itself is never polled
	defer func() {
		if still != nil {
			still.Stop()
		}
	}()
	for {
		fd, ino, err := openLock(path, !r.Probe)
		if err != nil {
			return nil, err
		}
		err = lockfile.Flock(fd, how|unix.LOCK_NB)
		if err == unix.EWOULDBLOCK {
			h := readHolder(path)
			if r.NonBlock {
				unix.Close(fd)
				return nil, fmt.Errorf("%s: %w (%s)", r.Domain, lock.ErrWouldBlock, lock.Describe(h))
			}
			if still == nil {
				notify(lock.Event{Kind: lock.Waiting, Domain: r.Domain, Holder: deref(h)})
				still = time.NewTicker(lock.StillEvery)
			}
			onStill := func() {
				notify(lock.Event{Kind: lock.StillWaiting, Domain: r.Domain, Holder: deref(readHolder(path)), Waited: time.Since(start)})
			}
			if err := wait(ctx, fd, how, timeout, still.C, onStill); err != nil {
				if err == lock.ErrTimeout {
					return nil, fmt.Errorf("%s: %w after %v (%s)", r.Domain, err, r.Wait, lock.Describe(readHolder(path)))
				}
				return nil, err
			}
		} else if err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		// A janitor may have unlinked the file while we waited on it: then
		// we hold a lock nobody else can see, so drop it and start again.
		// A probe (the janitor's reap of a bare lockfile) skips the look:
		// all it does under the lock is Unlink, which makes the same check.
		if !r.Probe {
			same, err := lockfile.SameFile(ino, path)
			if err != nil || !same {
				unix.Close(fd)
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		l := &held{fd: fd, ino: ino, dirfd: unix.AT_FDCWD, name: path, probe: r.Probe}
		switch {
		case r.Probe:
			// Looking, not holding: the record keeps describing the last
			// real holder, and the token sequence is untouched.
		case r.Shared:
			// Shared holders must not write; they report the last token.
			prev, _ := readRecord(fd)
			l.token = prev.Token
		default:
			h := r.Holder
			if h.Since.IsZero() {
				h.Since = time.Now()
			}
			if l.token, err = writeRecord(fd, path, h); err != nil {
				l.Release()
				return nil, err
			}
		}
		notify(lock.Event{Kind: lock.Acquired, Domain: r.Domain, Waited: time.Since(start)})
		return l, nil
	}
}

// tryProbe is Acquire of a Probe request that does not wait: the janitor's
// reap of a bare lockfile, thousands a pass (.ci/bench-janitor). The name
// is built once and used relative to the lock dir's fd (lockDir), so the
// kernel walks one component per call; every check stays: OpenAt's (no
// symlink, FIFO, other user's or hard-linked file; never created), and
// Unlink's look that the name still names the locked inode.
func (b *Backend) tryProbe(r lock.Request) (lock.Lock, error) {
	dirfd, err := b.lockDir()
	if err != nil {
		return nil, err
	}
	name := fileName(r.Domain)
	fd, ino, err := lockfile.OpenAt(dirfd, b.dir, name, false)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if r.Shared {
		how = unix.LOCK_SH
	}
	switch err := lockfile.Flock(fd, how|unix.LOCK_NB); err {
	case nil:
	case unix.EWOULDBLOCK:
		h := readHolder(lockfile.Join(b.dir, name))
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w (%s)", r.Domain, lock.ErrWouldBlock, lock.Describe(h))
	default:
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: lockfile.Join(b.dir, name), Err: err}
	}
	if r.Notify != nil {
		r.Notify(lock.Event{Kind: lock.Acquired, Domain: r.Domain})
	}
	return &held{fd: fd, ino: ino, dirfd: dirfd, dir: b.dir, name: name, probe: true}, nil
}

// wait blocks in flock(2) on fd in a goroutine. On a nil return the lock is
// held on fd; otherwise fd belongs to wait: closed now, or, if the goroutine
// is still blocked, closed by it as soon as flock returns — an abandoned
// wait that succeeds later releases at once (matters in-process, ccci-sh).
func wait(ctx context.Context, fd, how int, timeout, still <-chan time.Time, onStill func()) error {
	var mu sync.Mutex
	abandoned := false
	done := make(chan error, 1)
	go func() {
		err := lockfile.Flock(fd, how)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			unix.Close(fd)
			return
		}
		done <- err
	}()
	abandon := func(why error) error {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-done: // it returned meanwhile: ours to close
			unix.Close(fd)
		default:
			abandoned = true
		}
		return why
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				unix.Close(fd)
				return fmt.Errorf("flock: %w", err)
			}
			return nil
		case <-still:
			onStill()
		case <-timeout:
			return abandon(lock.ErrTimeout)
		case <-ctx.Done():
			return abandon(ctx.Err())
		}
	}
}

func deref(h *lock.Holder) lock.Holder {
	if h == nil {
		return lock.Holder{}
	}
	return *h
}

// held is an acquired lock: the open fd, kept until Release. Its file is
// name in the directory open as dirfd: the lock dir (a probe's, which
// must be released before the Backend is closed), or unix.AT_FDCWD with
// name the whole path.
type held struct {
	mu    sync.Mutex
	fd    int // -1 once released
	ino   inode
	dirfd int
	dir   string // for messages: path() is Join(dir, name)
	name  string
	probe bool
	token uint64
}

func (l *held) path() string { return lockfile.Join(l.dir, l.name) }

func (l *held) Token() uint64 { return l.token }

// Lost implements lock.Lock: a kernel flock is never lost while held.
func (l *held) Lost() <-chan struct{} { return nil }

// Unlink removes the lockfile while the lock is held, if the path still
// names our inode (never someone else's newer file).
func (l *held) Unlink() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd < 0 {
		return fmt.Errorf("unlink %s: lock already released", l.path())
	}
	same, err := lockfile.SameFileAt(l.ino, l.dirfd, l.dir, l.name)
	if err != nil || !same {
		return err
	}
	if err := unix.Unlinkat(l.dirfd, l.name, 0); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: l.path(), Err: err}
	}
	return nil
}

// Release unlocks and closes the fd.
func (l *held) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd < 0 {
		return fmt.Errorf("release %s: already released", l.path())
	}
	fd := l.fd
	l.fd = -1
	// The explicit unlock is for a real hold: a fork elsewhere in the
	// process (ccci-sh runs applets in-process) may have copied the fd
	// until its child execs, and closing ours alone would not release the
	// lock then. A probe, held for microseconds over an unlink, closes.
	var uerr error
	if !l.probe {
		uerr = lockfile.Flock(fd, unix.LOCK_UN)
	}
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "close", Path: l.path(), Err: err}
	}
	if uerr != nil {
		return &os.PathError{Op: "unlock", Path: l.path(), Err: uerr}
	}
	return nil
}
