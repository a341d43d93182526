// Package lock is the per-domain app lock that serializes same-domain CI runs:
// the interface every backend implements, the holder record, and the progress
// lines users and checks read.
//
// Backends: internal/flock (kernel flock on $CCCI_LOCK_DIR, the default) and
// internal/etcdlock (an etcd session mutex, for runners on several hosts).
// They register themselves with Register; Open picks one from the environment
// ($CCCI_LOCK_BACKEND). The kernel (or etcd) decides who holds a lock; the
// holder record only describes the holder.
package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Errors Acquire returns besides I/O errors.
var (
	ErrWouldBlock = errors.New("lock is held")                   // under NonBlock (-n)
	ErrTimeout    = errors.New("timed out waiting for the lock") // Wait (-w) expired
	// ErrTokenExhausted: the fencing token is at 2^64-1; the next would
	// wrap and go down, which a fence must never see. Exit 3.
	ErrTokenExhausted = errors.New("fencing token at its maximum (2^64-1); refusing to wrap it")
)

// Holder describes who holds a lock. Backends store it with the lock for
// diagnostics: waiters print it, --status and the janitor report it.
type Holder struct {
	Run   string    `json:"run"`             // CCCI_RUN_ID of the holder
	PID   int       `json:"pid"`             // holder's pid on its host
	Host  string    `json:"host"`            // holder's hostname
	Since time.Time `json:"since"`           // when it acquired
	Cmd   string    `json:"cmd,omitempty"`   // the command it runs, for humans
	Token uint64    `json:"token,omitempty"` // fencing token of that acquisition
	// Foreign: the kernel's holder is not the record's writer but a
	// process that writes none (flock(1), the old harness): PID and Cmd
	// are the kernel's, Since the lockfile's mtime; never a ccci run.
	Foreign bool `json:"foreign,omitempty"`
}

// Request is one acquisition.
type Request struct {
	Domain   string        // already validated by names.Domain
	Shared   bool          // a shared (read) lock, as flock -s
	NonBlock bool          // fail at once with ErrWouldBlock when held (-n)
	Wait     time.Duration // give up with ErrTimeout after this long; 0 = no limit (-w)
	Holder   Holder        // the record to store once acquired (Token is set by the backend)
	// Probe takes the lock only to look or to reap (the janitor): no holder
	// record is written and no token issued (Token() is 0), so a pass over
	// thousands of idle lockfiles costs a few syscalls each. The lock may
	// be on a file just unlinked (the file backend does not look again):
	// all a probe may do under it is Unlink, which checks. A backend
	// without a cheaper path (etcd) may ignore it.
	Probe bool
	// Notify, if set, is told when the wait starts, every StillEvery while
	// it goes on, and when the lock is acquired. Progress prints the
	// contract's lines.
	Notify func(Event)
}

// StillEvery is how often a waiter says it is still waiting.
const StillEvery = 30 * time.Second

// EventKind says what an Event reports.
type EventKind int

const (
	Waiting      EventKind = iota // the lock is held by Holder; we block
	StillWaiting                  // still blocked after Waited
	Acquired                      // acquired after Waited
)

// Event is a progress report from Acquire.
type Event struct {
	Kind   EventKind
	Domain string
	Holder Holder        // the current holder's record, as far as it can be read
	Waited time.Duration // for StillWaiting and Acquired
}

// Lock is a held lock. Release must be called exactly once; a Lock is never
// released by a finalizer, only by Release or by the holder's death.
type Lock interface {
	// Token is the fencing token of this acquisition: it increases with
	// every acquisition of the domain's lock (exported as CCCI_LOCK_TOKEN).
	Token() uint64
	// Lost is closed if the lock is lost while held (an etcd lease that
	// expired); a kernel flock is never lost, and returns nil.
	Lost() <-chan struct{}
	// Unlink removes the lock's file or key while it is still held, so a
	// janitor can clean up without racing a new holder.
	Unlink() error
	// Release releases the lock.
	Release() error
}

// Margin is how long l's holder has, once Lost is closed, to end its
// command before the lock may pass to another holder (the etcd backend's
// CCCI_ETCD_MARGIN); 0 for a lock that is never lost. A teardown that
// ends within it never overlaps the next holder (lifetime.EndOnWithin).
func Margin(l Lock) time.Duration {
	if m, ok := l.(interface{ Margin() time.Duration }); ok {
		return m.Margin()
	}
	return 0
}

// Started tells l that its holder's command is running. A backend that
// writes to the lock after acquiring (the etcd backend rewrites a waiter's
// holder record with the time it took the lock) does it then, so the write
// does not compete with the command's start; until then the record is the
// one stored while queueing. Call it once the command has started (or at
// once, if nothing is to be started quickly); a backend with nothing to do
// ignores it.
func Started(l Lock) {
	if s, ok := l.(interface{ Started() }); ok {
		s.Started()
	}
}

// Entry is one lock as --status and the janitor see it.
type Entry struct {
	Domain string  `json:"domain"`
	Held   bool    `json:"held"`
	Holder *Holder `json:"holder,omitempty"` // the stored record, if any
}

// Listed is one lock as Backend.List finds it.
type Listed struct {
	Domain string // validated by names.Domain; "" when Err says it is none
	Where  string // the lockfile or key, for messages
	Err    error  // not a domain's lock, or not safe to probe: skip it
}

// Touched is when domain's lock was last taken as far as the backend can
// tell without a holder record (the file backend: the lockfile's mtime);
// zero when it cannot.
func Touched(b Backend, domain string) time.Time {
	if t, ok := b.(interface{ Touched(string) time.Time }); ok {
		return t.Touched(domain)
	}
	return time.Time{}
}

// Backend is where locks live.
type Backend interface {
	// Acquire blocks until the domain's lock is held, without polling: a
	// waiter wakes when the holder releases. Cancelling ctx ends the wait
	// at once with ctx.Err().
	Acquire(ctx context.Context, r Request) (Lock, error)
	// Probe reports whether the domain's lock is held, and the holder
	// record; it never blocks and never creates anything.
	Probe(ctx context.Context, domain string) (held bool, h *Holder, err error)
	// Status lists every lock the backend knows of, by domain.
	Status(ctx context.Context) ([]Entry, error)
	// List names every lock the backend keeps, without probing or opening
	// any: the janitor's cheap first look. A name that is no domain's, or
	// a lock that cannot be probed safely, comes back with Err set. Only a
	// listing that failed as a whole returns an error; no locks is none.
	List(ctx context.Context) ([]Listed, error)
	// Where names domain's lock for messages: its lockfile, its key.
	Where(domain string) string
	// Namespace names the set of locks this backend serializes on: two
	// runs serialize with each other only if their namespaces are equal.
	// Apps are labelled with it, so a janitor reaps only its own
	// (docs/concurrency.md, "Namespaces"). The file backend's is
	// "file:<host>:<lock dir>", the etcd backend's
	// "etcd:<cluster id>:<prefix>"; stable across calls and restarts.
	Namespace(ctx context.Context) (string, error)
	// Close releases the backend's resources (connections).
	Close() error
}

var backends = map[string]func(env *applet.Env) (Backend, error){}

// Register makes a backend available to Open under name; backends call it
// from init. A duplicate name is a programming error.
func Register(name string, open func(env *applet.Env) (Backend, error)) {
	if _, dup := backends[name]; dup {
		panic("lock: backend registered twice: " + name)
	}
	backends[name] = open
}

// Open returns the backend $CCCI_LOCK_BACKEND names ("file" by default).
func Open(env *applet.Env) (Backend, error) {
	name := env.GetenvDefault("CCCI_LOCK_BACKEND", "file")
	open, ok := backends[name]
	if !ok {
		var known []string
		for n := range backends {
			known = append(known, n)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("unknown lock backend %q (CCCI_LOCK_BACKEND); known: %v", name, known)
	}
	return open(env)
}
