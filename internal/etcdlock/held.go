package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// held is an acquired lock.
type held struct {
	b   *Backend
	s   *session
	key string
	rev int64 // our key's create revision: the token, and every write's guard
	rec lock.Holder

	lost     chan struct{}
	lostOnce sync.Once

	once     sync.Once
	released chan struct{}

	recCtx    context.Context    // the record write's; cancelled by Release
	recCancel context.CancelFunc // ends a record write still under way
	recOnce   sync.Once          // starts the record write, or rules it out
	recDone   chan struct{}      // closed once the record write is over (or ruled out)
}

// hold makes an acquired key a Lock. The token is our key's create
// revision, known from the queueing txn, so no request is needed. Unless
// fresh (the record on our key is the one to keep), the record is rewritten,
// guarded by the token, once the holder says its command has started
// (Started): the write needs a new connection (the watch held the only
// one), and made while the command starts it delays the start on a busy
// host. A reader until then sees the record from when we queued.
func (b *Backend) hold(s *session, key string, rev int64, rec lock.Holder, fresh bool) *held {
	rec.Token = uint64(rev)
	rctx, rcancel := context.WithCancel(context.Background())
	l := &held{b: b, s: s, key: key, rev: rev, rec: rec,
		lost: make(chan struct{}), released: make(chan struct{}),
		recCtx: rctx, recCancel: rcancel, recDone: make(chan struct{})}
	if fresh {
		l.recOnce.Do(func() { close(l.recDone) })
	}
	go l.watchLease()
	return l
}

// Started starts the record write in the background (lock.Started), after
// recordDelay; only the first call counts, and none after Release.
func (l *held) Started() {
	l.recOnce.Do(func() {
		go func() {
			t := time.NewTimer(recordDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-l.recCtx.Done():
			}
			l.record(l.recCtx)
		}()
	})
}

// recordDelay keeps the record write out of the command's first moments:
// sent as its init starts it, the write (and the raft commit it causes on
// members that may share the host) competes with the command's exec, and
// costs a handoff about as much as writing at once (docs/etcd.md). Readers
// see the record from when we queued until then.
const recordDelay = 100 * time.Millisecond

// owner guards a write: our key still has our create revision.
func (l *held) owner() []compare { return []compare{createRevIs(l.key, l.rev)} }

// record writes the holder record on our key, only while it is ours. A
// failed guard means the lock is lost.
func (l *held) record(ctx context.Context) {
	defer close(l.recDone)
	var resp *txnResponse
	err := l.b.retryNoLeader(ctx, func(ctx context.Context) (err error) {
		resp, err = l.b.c.txn(ctx, txnRequest{Compare: l.owner(),
			Success: []requestOp{{Put: &putRequest{Key: []byte(l.key), Value: encode(l.rec), Lease: l.s.id}}}})
		return err
	})
	if err == nil && !resp.Succeeded {
		l.markLost()
	}
	// Any other failure leaves the record from when we queued; the lock
	// itself is unaffected, and a lost lease is caught by watchLease.
}

// watchLease closes lost when the session ends before Release: its
// deadline (minus the margin) passed without a renewal, or etcd said the
// lease is gone.
func (l *held) watchLease() {
	select {
	case <-l.s.Done():
		l.markLost()
	case <-l.released:
	}
}

// markLost closes lost, unless the lock was released first.
func (l *held) markLost() {
	select {
	case <-l.released:
	default:
		l.lostOnce.Do(func() { close(l.lost) })
	}
}

func (l *held) Token() uint64         { return l.rec.Token }
func (l *held) Lost() <-chan struct{} { return l.lost }
func (l *held) Holder() lock.Holder   { return l.rec }
func (l *held) LeaseID() int64        { return l.s.id }

// Margin is CCCI_ETCD_MARGIN: Lost closes that long before the lease could
// expire (lock.Margin).
func (l *held) Margin() time.Duration { return l.b.cfg.Margin }

// Unlink deletes the lock key, only while it is still ours (the token
// guards the delete); the lease ends with Release.
func (l *held) Unlink() error {
	// One attempt: a retry after a delete that did happen would fail its
	// guard and call the lock lost.
	ctx, cancel := context.WithTimeout(context.Background(), l.b.cfg.Timeout)
	defer cancel()
	resp, err := l.b.c.txn(ctx, txnRequest{Compare: l.owner(),
		Success: []requestOp{{Delete: &deleteRangeRequest{Key: []byte(l.key)}}}})
	if err != nil {
		return l.b.wrap("delete", l.key, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcd delete %s: %w", l.key, errLost)
	}
	return nil
}

var errLost = errors.New("lock lost (lease expired)")

// Release revokes the lease: one request deletes our key, which wakes the
// next waiter (a delete first would be one more request before the revoke,
// and wake it no sooner). Revoking only ever touches this holder's own
// keys, so a stale holder cannot release a newer holder's lock.
func (l *held) Release() error {
	err := os.ErrClosed
	l.once.Do(func() {
		close(l.released)
		l.recCancel()
		l.recOnce.Do(func() { close(l.recDone) }) // never started: it never will be
		<-l.recDone
		err = l.s.end()
	})
	return err
}
