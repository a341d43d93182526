// Package flock is the "file" lock backend: a real kernel flock(2) on
// $CCCI_LOCK_DIR/cc-ci-app-<domain>.lock (default /run/lock), the same files
// the harness ccci replaces locks, so old and new runs serialize together.
//
// Guarantees (each proven by the test named):
//   - the kernel lock is the only truth; the holder record written into the
//     file is diagnostics plus the fencing token (TestTokenIncreases), which
//     keeps increasing when the file is unlinked or its record garbled: it
//     never falls below the clock in microseconds (TestTokenSurvivesUnlink);
//   - a Probe request (the janitor) locks without writing a record or
//     issuing a token (TestProbeRequest); Status skips and reports an entry
//     it cannot probe, listing the rest (TestStatusSkipsBadEntries);
//   - the fd is opened O_CLOEXEC|O_NOFOLLOW and must be a regular file with
//     one link, so no child inherits it and a planted symlink, directory or
//     hard link is refused untouched (TestOpenRefuses);
//   - no polling: a waiter blocks in flock(2) and wakes when the holder
//     releases; cancelling the context abandons the wait at once, and a wait
//     that later succeeds releases at once (TestAbandonedWaitReleases);
//   - after acquiring, the path still names the locked inode, else it
//     retries, so a janitor may unlink lockfiles (TestUnlinkedWhileWaiting);
//   - nothing is created outside the lock dir; a missing lock dir is created
//     (0755) only if its parent exists (TestLockDir).
package flock

import (
	"path/filepath"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// DefaultDir is the lock dir when $CCCI_LOCK_DIR is unset.
const DefaultDir = "/run/lock"

const (
	filePrefix = "cc-ci-app-"
	fileSuffix = ".lock"
)

// Open is the "file" backend for env: lockfiles in $CCCI_LOCK_DIR, else
// DefaultDir (busybox.go registers it with lock.Register).
func Open(env *applet.Env) (lock.Backend, error) {
	return New(env.GetenvDefault("CCCI_LOCK_DIR", DefaultDir)), nil
}

// Backend keeps the locks of one lock dir.
type Backend struct{ dir string }

// New returns the backend for lockfiles in dir.
func New(dir string) *Backend { return &Backend{dir: dir} }

// Path is the lockfile of domain, which the caller has validated with
// names.Domain.
func (b *Backend) Path(domain string) string {
	return filepath.Join(b.dir, filePrefix+domain+fileSuffix)
}

// domainOf is the domain a lockfile name belongs to, if it is one.
func domainOf(name string) (string, bool) {
	if !strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
		return "", false
	}
	d := strings.TrimSuffix(strings.TrimPrefix(name, filePrefix), fileSuffix)
	return d, d != ""
}

// Close implements lock.Backend; the file backend holds nothing between calls.
func (b *Backend) Close() error { return nil }

var _ lock.Backend = (*Backend)(nil)
