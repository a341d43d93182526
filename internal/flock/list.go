package flock

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	var out []lock.Listed
	err := b.Each(ctx, func(l lock.Listed) { out = append(out, l) })
	return out, err
}

// Each calls fn for each lock List lists, as the lock dir is read, a few
// hundred entries at a time: the janitor starts on the first lockfiles
// while the rest are still being read.
func (b *Backend) Each(ctx context.Context, fn func(lock.Listed)) error {
	f, err := os.Open(b.dir)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		des, err := f.ReadDir(256)
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
			fn(l)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
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

// Namespace implements lock.Backend: "file:<host>:<lock dir>", host being
// the kernel's hostname and, where there is one, "/" and the first 12 hex
// of /etc/machine-id (two hosts given one hostname are still two
// namespaces: each janitor would otherwise take the other's live apps for
// its own, and find their lockfiles free), and the lock dir made absolute
// with its symlinks resolved (/var/lock and /run/lock are one namespace).
// Two runs serialize exactly when they flock the same files: the same dir
// on the same host (a lock dir shared between hosts over a network
// filesystem is not supported). A lock dir not created yet is resolved
// through its parent.
func (b *Backend) Namespace(ctx context.Context) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("lock namespace: %v", err)
	}
	if id := machineID(); id != "" {
		host += "/" + id
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

// machineIDFile names this host for as long as it is installed, across
// reboots (machine-id(5)).
const machineIDFile = "/etc/machine-id"

// machineID is the first 12 hex digits of the host's machine id, or ""
// when there is none to read (a container without one): the hostname
// alone then names the host.
func machineID() string {
	b, err := os.ReadFile(machineIDFile)
	if err != nil {
		return ""
	}
	return idPrefix(string(b))
}

// idPrefix is the first 12 hex digits of a machine-id file's content, or
// "" when it is not one (empty, "uninitialized", garbage).
func idPrefix(s string) string {
	id := strings.TrimSpace(s)
	if len(id) < 12 || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return id[:12]
}
