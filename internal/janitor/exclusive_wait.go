package janitor

import (
	"context"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
)

// ExclusiveWait is Exclusive for a pass that must not give up because
// another janitor is reaping (--check, --dry-run: a check that exits 0
// without having checked is a false pass). It waits, up to d, for the
// other janitor to release the janitor lock, then takes it. If the other
// still holds it after d, other describes it and nothing is held; the
// caller must fail. The wait blocks in flock(2) on a second fd (LOCK_SH:
// it wakes when the exclusive holder releases), never polls
// (TestExclusiveWait).
func ExclusiveWait(ctx context.Context, lockDir string, d time.Duration) (release func(), other string, err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		release, other, err = Exclusive(lockDir)
		if other == "" || err != nil {
			return release, other, err
		}
		if !waitReleased(ctx, filepath.Join(lockDir, ExclusiveName)) {
			return nil, other, nil
		}
	}
}

// waitReleased blocks until path's exclusive holder lets go (true) or ctx
// ends (false). An abandoned flock that succeeds later closes its fd.
func waitReleased(ctx context.Context, path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return ctx.Err() == nil // gone: try Exclusive again
	}
	done := make(chan struct{})
	go func() {
		lockfile.Flock(fd, unix.LOCK_SH)
		unix.Close(fd)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
