// Package lockfile holds what every lockfile of ccci rests on: the app
// locks (internal/flock), a run's live-lock (internal/runstate) and the
// janitor lock (internal/janitor). It holds flock(2) retried on EINTR, so
// a signal to a thread blocked in it never reads as a failure to lock.
package lockfile

import "golang.org/x/sys/unix"

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
