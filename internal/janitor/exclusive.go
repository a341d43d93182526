package janitor

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"

	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
	"golang.org/x/sys/unix"
)

// ExclusiveName is the janitor lock in the lock dir: one janitor at a time.
const ExclusiveName = "ccci-janitor.lock"

// Exclusive takes the janitor lock (lockDir/ccci-janitor.lock, flock,
// non-blocking). If another janitor holds it, other describes it ("pid N")
// and nothing is held. The fd is close-on-exec and never inherited. A
// janitor lock that cannot be opened is an error: a reaping pass then
// fails rather than run beside another janitor.
func Exclusive(lockDir string) (release func(), other string, err error) {
	path := filepath.Join(lockDir, ExclusiveName)
	// Opened as the app locks are: one another user planted (in a shared
	// /run/lock) is refused, never held for them or skipped (TestExclusive).
	fd, _, err := lockfile.Open(path, true)
	if err != nil {
		return nil, "", err
	}
	err = lockfile.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		buf := make([]byte, 32)
		n, _ := unix.Pread(fd, buf, 0)
		unix.Close(fd)
		other = "pid " + string(bytes.TrimSpace(buf[:max(n, 0)]))
		if n <= 0 {
			other = "pid unknown"
		}
		return nil, other, nil
	}
	if err != nil {
		unix.Close(fd)
		return nil, "", &os.PathError{Op: "flock", Path: path, Err: err}
	}
	// The pid is for the message of a second janitor only.
	b := []byte(strconv.Itoa(proc.Self()) + "\n")
	unix.Pwrite(fd, b, 0)
	unix.Ftruncate(fd, int64(len(b)))
	return func() { unix.Close(fd) }, "", nil
}
