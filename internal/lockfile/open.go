package lockfile

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Open opens path for locking, as every lockfile in a lock dir is opened
// (the app locks, the janitor lock). create adds O_RDWR|O_CREAT (0644);
// without it the file is opened read-only and never created. O_NOFOLLOW
// refuses a symlink and O_NONBLOCK keeps a planted FIFO from hanging the
// open. A file that is not regular, not ours (another user may create it
// first in a shared /run/lock, and hold it to block us, or move it aside)
// or hard-linked elsewhere (writing a record would write outside the lock
// dir) is refused, naming why (TestOpen).
//
// The fd is a raw int, not an *os.File: no finalizer can ever close it,
// and so release the lock, while it is held. The returned Inode is the
// fd's, for SameFile: it cannot change while the fd is open.
func Open(path string, create bool) (int, Inode, error) {
	return OpenAt(unix.AT_FDCWD, "", path, create)
}

// OpenAt is Open of name in the directory open as dirfd (unix.AT_FDCWD:
// name is a path), with the same checks: the janitor opens thousands of
// lockfiles by name relative to the lock dir, and the kernel then walks
// one component, not the whole path. dir is the directory's path, used
// only to name the file in errors (Join(dir, name)).
func OpenAt(dirfd int, dir, name string, create bool) (int, Inode, error) {
	flags := unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK
	if create {
		flags |= unix.O_RDWR | unix.O_CREAT
	} else {
		flags |= unix.O_RDONLY
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat(dirfd, name, flags, 0o644)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, Inode{}, &os.PathError{Op: "open", Path: Join(dir, name), Err: whyNot(dirfd, name, err)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, Inode{}, &os.PathError{Op: "fstat", Path: Join(dir, name), Err: err}
	}
	var why error
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = errors.New("not a regular file; refusing it")
	case int(st.Uid) != euid():
		why = notOurs(st.Uid)
	case st.Nlink > 1:
		why = fmt.Errorf("has %d hard links; refusing it", st.Nlink)
	}
	if why != nil {
		unix.Close(fd)
		return -1, Inode{}, &os.PathError{Op: "open", Path: Join(dir, name), Err: why}
	}
	return fd, Inode{uint64(st.Dev), st.Ino}, nil
}

// Join is the path of name in dir, for messages: name alone when dir is
// "" (name is then a path itself, as Open's is).
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

// euid is our effective uid, asked once: a janitor pass opens thousands
// of lockfiles, and os.Geteuid is a system call each time.
var euid = sync.OnceValue(os.Geteuid)

// whyNot explains a failed open. A symlink is refused as such: ELOOP, or
// EACCES when another user planted it in a sticky dir. So is a file of
// another user that we may not open for writing, as notOurs says for one
// we may (TestUnprivileged: the attacks of a second local user).
func whyNot(dirfd int, name string, err error) error {
	var st unix.Stat_t
	switch {
	case err == unix.ELOOP:
	case err != unix.EACCES && err != unix.EPERM, unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil:
		return err
	case st.Mode&unix.S_IFMT != unix.S_IFLNK:
		if int(st.Uid) != euid() {
			return notOurs(st.Uid)
		}
		return err
	}
	return errors.New("is a symlink; refusing to follow it")
}

func notOurs(uid uint32) error {
	return fmt.Errorf("owned by %s, not by us (%s); refusing it", Who(uid), Who(uint32(os.Geteuid())))
}

// Who names a user for a message: "uid N (name)", or "uid N" when the
// name cannot be looked up.
func Who(uid uint32) string {
	s := fmt.Sprintf("uid %d", uid)
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}
