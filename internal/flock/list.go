package flock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// List implements lock.Backend: the cc-ci-app-*.lock names in the lock
// dir, read from the directory alone (dirents carry the type: no stat, no
// open per lockfile, so a pass over thousands stays cheap). A name that is
// not a valid domain's, or an entry that is not a regular file, is listed
// with Err set. A missing lock dir is an *os.PathError (os.ErrNotExist):
// nothing to list, but worth saying, as the janitor does (TestList).
func (b *Backend) List(ctx context.Context) ([]lock.Listed, error) {
	f, err := os.Open(b.dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	var out []lock.Listed
	for _, de := range des {
		raw, ok := domainOf(de.Name())
		if !ok {
			continue
		}
		l := lock.Listed{Where: filepath.Join(b.dir, de.Name())}
		d, derr := names.Domain(raw)
		switch {
		case derr != nil:
			l.Err = derr
		case !de.Type().IsRegular():
			l.Domain, l.Err = d, fmt.Errorf("not a regular file (%s)", de.Type())
		default:
			l.Domain = d
		}
		out = append(out, l)
	}
	return out, err
}

// Where implements lock.Backend: the domain's lockfile.
func (b *Backend) Where(domain string) string { return b.Path(domain) }

// Touched is the lockfile's mtime: every acquisition that writes a
// record rewrites it, and flock(1) or the old harness opens it with
// O_CREAT when first locking it; zero when there is no such file.
func (b *Backend) Touched(domain string) time.Time {
	fi, err := os.Lstat(b.Path(domain))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// Namespace implements lock.Backend: "file:<host>:<lock dir>", the
// kernel's hostname and the lock dir made absolute with its symlinks
// resolved (/var/lock and /run/lock are one namespace). Two runs serialize
// exactly when they flock the same files: the same dir on the same host
// (a lock dir shared between hosts over a network filesystem is not
// supported). A lock dir not created yet is resolved through its parent.
func (b *Backend) Namespace(ctx context.Context) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("lock namespace: %v", err)
	}
	dir, err := filepath.Abs(b.dir)
	if err != nil {
		return "", fmt.Errorf("lock namespace: %v", err)
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	} else if r, err := filepath.EvalSymlinks(filepath.Dir(dir)); err == nil {
		dir = filepath.Join(r, filepath.Base(dir))
	}
	return "file:" + host + ":" + dir, nil
}
