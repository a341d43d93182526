package flock

import (
	"context"
	"errors"
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
)

// Probe implements lock.Backend. It never creates the file, and tries an
// exclusive non-blocking lock (a shared try would succeed beside shared
// holders), releasing it at once if it gets it.
func (b *Backend) Probe(ctx context.Context, domain string) (bool, *lock.Holder, error) {
	if err := checkDir(b.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, nil, err
	}
	return probe(b.Path(domain))
}

func probe(path string) (bool, *lock.Holder, error) {
	fd, _, err := openLock(path, false)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil, nil
		}
		return false, nil, err
	}
	defer unix.Close(fd)
	var h *lock.Holder
	if rec, err := readRecord(fd); err == nil {
		h = &rec
	}
	switch err := lockfile.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err {
	case nil:
		lockfile.Flock(fd, unix.LOCK_UN)
		return false, h, nil
	case unix.EWOULDBLOCK:
		// Shared holders write no record: the one in the file is the last
		// exclusive holder's, likely gone. If a shared lock can be had,
		// only shared holders hold it; report no holder rather than a
		// dead pid (TestProbeShared). An exclusive holder is named as
		// the kernel sees it (kernelTruth).
		if lockfile.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) == nil {
			lockfile.Flock(fd, unix.LOCK_UN)
			return true, nil, nil
		}
		return true, kernelTruth(fd, h), nil
	default:
		return false, nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
}

// Status implements lock.Backend: every cc-ci-app-*.lock in the lock dir,
// by domain. A missing lock dir has no locks. An entry that cannot be
// probed (a planted symlink, a FIFO, no permission) is skipped, not fatal:
// the rest are still listed, and the error returned joins one error per
// skipped entry, each naming its path (TestStatusSkipsBadEntries).
func (b *Backend) Status(ctx context.Context) ([]lock.Entry, error) {
	des, err := os.ReadDir(b.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if err := checkDir(b.dir); err != nil {
		return nil, err
	}
	var es []lock.Entry
	var bad []error
	for _, de := range des {
		d, ok := domainOf(de.Name())
		if !ok {
			continue
		}
		held, h, err := probe(b.Path(d))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		es = append(es, lock.Entry{Domain: d, Held: held, Holder: h})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Domain < es[j].Domain })
	return es, errors.Join(bad...)
}
