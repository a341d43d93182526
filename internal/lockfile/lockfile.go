// Package lockfile holds what every lockfile of ccci rests on: the app
// locks (internal/flock), a run's live-lock (internal/runstate) and the
// janitor lock (internal/janitor): flock(2) retried on EINTR, so a signal
// to a thread blocked in it never reads as a failure to lock; and the
// check that a path still names the file a lock is held on, so that a
// lockfile unlinked (or replaced) while a waiter blocked on it is noticed.
package lockfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// Flock is flock(2) on fd, retried on EINTR, as
// cmd/go/internal/lockedfile does. how is unix.LOCK_EX, LOCK_SH or
// LOCK_UN, with LOCK_NB for a try: then a held lock is unix.EWOULDBLOCK.
func Flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// Inode identifies a file: what an open fd names for as long as it is open.
type Inode struct{ Dev, Ino uint64 }

// InodeOf is the inode fd names (fstat).
func InodeOf(fd int) (Inode, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Inode{}, err
	}
	return Inode{uint64(st.Dev), st.Ino}, nil
}

// SameFile reports whether path still names ino, no symlink followed: one
// lstat, as the fd's own inode cannot change while it is open. A path that
// no longer exists names nothing: false, and no error.
func SameFile(ino Inode, path string) (bool, error) {
	return SameFileAt(ino, unix.AT_FDCWD, "", path)
}

// SameFileAt is SameFile of name in the directory open as dirfd, as
// OpenAt opens it (dir names it in errors).
func SameFileAt(ino Inode, dirfd int, dir, name string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "stat", Path: Join(dir, name), Err: err}
	}
	return ino == Inode{uint64(st.Dev), st.Ino}, nil
}
