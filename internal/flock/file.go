package flock

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
)

// openLock opens path for locking: lockfile.Open, the checks every
// lockfile of ccci gets (TestOpenRefuses).
func openLock(path string, create bool) (int, inode, error) {
	return lockfile.Open(path, create)
}

// lockDir is the lock dir's fd, opened at the first call and kept until
// Close: the janitor names each of thousands of lockfiles relative to it
// (tryProbe). O_PATH needs no read permission, only the search the paths
// needed; a dir missing now is an error wrapping os.ErrNotExist, as the
// lockfile's open would have been, and is not remembered.
func (b *Backend) lockDir() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dirfd >= 0 {
		return b.dirfd, nil
	}
	for {
		fd, err := unix.Open(b.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		switch err {
		case nil:
			b.dirfd = fd
			return fd, nil
		case unix.EINTR:
		default:
			return -1, &os.PathError{Op: "open", Path: b.dir, Err: err}
		}
	}
}

// inode identifies a file: what an open fd names for as long as it is open.
type inode = lockfile.Inode

// ensureDir creates a missing lock dir (0700: no other user can enter it,
// so none can open a lockfile and flock it to hold a domain), but never
// its parents: only the lock dir itself is ever created.
func ensureDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lock dir %s: parent %s does not exist", dir, filepath.Dir(dir))
	}
	return err
}

// checkDir refuses a lock dir in which another user could move a held
// lockfile aside (so that a second holder locks a new file and runs
// concurrently): writable by group or others without the sticky bit, or
// owned by someone other than root or us. /run/lock (1777, root) passes;
// a dedicated 0755 dir owned by the runner is what docs/concurrency.md
// recommends (TestLockDirRefused).
func checkDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	mode := os.FileMode(st.Mode & 0o777)
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("lock dir %s: not a directory", dir)
	case st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
		return fmt.Errorf("lock dir %s: writable by others without the sticky bit (mode %v): anyone could move a held lockfile aside; refusing it", dir, mode)
	case st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("lock dir %s: owned by %s, neither root nor us (%s); refusing it", dir, lockfile.Who(st.Uid), lockfile.Who(uint32(os.Geteuid())))
	}
	return nil
}

// readRecord reads the holder record at the start of fd's file.
func readRecord(fd int) (lock.Holder, error) {
	buf := make([]byte, lock.MaxRecord)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return lock.Holder{}, err
	}
	return lock.ParseRecord(buf[:n])
}

// readHolder reads the record of path's current holder for diagnostics,
// checked against the kernel's holders (kernelTruth); nil when there is
// none or it cannot be read.
func readHolder(path string) *lock.Holder {
	fd, _, err := openLock(path, false)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	h, err := readRecord(fd)
	if err != nil {
		return kernelTruth(fd, nil)
	}
	return kernelTruth(fd, &h)
}

// writeRecord stores h, with the next fencing token, while the exclusive
// lock is held: pwrite at 0, then truncate away any longer old record.
func writeRecord(fd int, path string, h lock.Holder) (uint64, error) {
	prev, _ := readRecord(fd) // garbage or empty: prev.Token is 0
	if prev.Token == math.MaxUint64 {
		return 0, &os.PathError{Op: "lock", Path: path, Err: lock.ErrTokenExhausted}
	}
	h.Token = nextToken(prev.Token, time.Now())
	b := lock.EncodeRecord(h)
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		return 0, &os.PathError{Op: "write", Path: path, Err: err}
	}
	if err := unix.Ftruncate(fd, int64(len(b))); err != nil {
		return 0, &os.PathError{Op: "truncate", Path: path, Err: err}
	}
	return h.Token, nil
}

// nextToken is the fencing token after prev (< 2^64-1, which writeRecord
// refuses rather than wrap: TestTokenNeverWraps): prev+1, but never below the
// wall clock in microseconds since the epoch. A lockfile the janitor
// unlinked, or whose record is garbage, has lost prev; the clock floor
// keeps the sequence increasing anyway (TestTokenSurvivesUnlink).
//
// Assumption: between the last acquisition before the record was lost and
// the first after it, the clock does not step back by more than the time
// that passed (NTP slews; a manual step back of minutes right after a
// janitor pass could repeat a token). prev+1 outruns the clock only at
// more than one acquisition per microsecond, which file I/O rules out.
func nextToken(prev uint64, now time.Time) uint64 {
	floor := uint64(max(now.UnixMicro(), 0))
	return max(prev+1, floor)
}
