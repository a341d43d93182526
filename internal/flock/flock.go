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
//   - a Probe request that does not wait names its lockfile relative to
//     the lock dir's fd, held until Close, with every check of a path's
//     open, and unlinks it only while the name still names the locked
//     inode (TestProbeUnlink);
//   - the fd is opened O_CLOEXEC|O_NOFOLLOW and must be a regular file with
//     one link, so no child inherits it and a planted symlink, directory or
//     hard link is refused untouched (TestOpenRefuses);
//   - no polling: a waiter blocks in flock(2) and wakes when the holder
//     releases; cancelling the context abandons the wait at once, and a wait
//     that later succeeds releases at once (TestAbandonedWaitReleases);
//   - after acquiring, the path still names the locked inode, else it
//     retries, so a janitor may unlink lockfiles (TestUnlinkedWhileWaiting);
//   - List names the lockfiles from the lock dir's entries alone, opening
//     none (TestList); Namespace is "file:<host>:<lock dir>", one name for
//     every spelling of the dir (TestNamespace);
//   - nothing is created outside the lock dir; a missing lock dir is created
//     (0755) only if its parent exists (TestLockDir).
package flock

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

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
type Backend struct {
	dir string

	mu    sync.Mutex
	dirfd int // the lock dir, open for probes once one is made; -1 before
}

// New returns the backend for lockfiles in dir.
func New(dir string) *Backend { return &Backend{dir: dir, dirfd: -1} }

// Path is the lockfile of domain, which the caller has validated with
// names.Domain: cc-ci-app-<domain>.lock, the contract's name, for every
// domain up to 240 characters, whose name fits in the 255 bytes a file
// name may have. See fileDomain for longer ones (TestLongDomains).
func (b *Backend) Path(domain string) string {
	return filepath.Join(b.dir, fileName(domain))
}

// fileName is the lockfile name of domain in the lock dir.
func fileName(domain string) string {
	return filePrefix + fileDomain(domain) + fileSuffix
}

// maxFileDomain is the longest domain whose contract lockfile name fits
// in NAME_MAX (255): 255 - len("cc-ci-app-") - len(".lock").
const maxFileDomain = 255 - len(filePrefix) - len(fileSuffix)

// fileDomain is the domain as it appears in its lockfile name. A domain of
// 241-253 characters (valid, but its name would pass 255 bytes) becomes
// its first 176 characters (without a trailing dot or hyphen), a dot,
// and "x" plus the first 62 hex digits of the whole domain's SHA-256: 240
// characters at most, still a valid domain (the janitor reads lockfile
// names as domains), and collision-free as SHA-256 is. The harness ccci
// replaces cannot lock such a domain at all, so no name is shared with it.
func fileDomain(domain string) string {
	if len(domain) <= maxFileDomain {
		return domain
	}
	sum := sha256.Sum256([]byte(domain))
	head := strings.TrimRight(domain[:176], ".-")
	return head + ".x" + hex.EncodeToString(sum[:])[:62]
}

// domainOf is the domain a lockfile name belongs to, if it is one.
func domainOf(name string) (string, bool) {
	if !strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
		return "", false
	}
	d := strings.TrimSuffix(strings.TrimPrefix(name, filePrefix), fileSuffix)
	return d, d != ""
}

// Close implements lock.Backend: it closes the lock dir's fd, if a probe
// opened it. Nothing else is held between calls.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dirfd < 0 {
		return nil
	}
	fd := b.dirfd
	b.dirfd = -1
	return unix.Close(fd)
}

var _ lock.Backend = (*Backend)(nil)
