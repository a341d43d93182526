package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// held is an acquired lock.
type held struct {
	b      *Backend
	s      *concurrency.Session
	cancel context.CancelFunc
	m      *concurrency.Mutex
	key    string
	rec    lock.Holder

	lost     chan struct{}
	lostOnce sync.Once

	once     sync.Once
	released chan struct{}

	recCancel context.CancelFunc // ends a record write still under way
	recDone   chan struct{}      // closed once the record write is over
}

// hold makes an acquired mutex a Lock. The token is the mutex's own
// revision of our key (its create revision, the one IsOwner compares), so
// no request is needed. Unless fresh (the record on our key is the one to
// keep), the record is rewritten in the background, guarded by IsOwner,
// while the command starts: a waiter's handoff costs no write. A reader in
// that window sees the record from when we queued.
func (b *Backend) hold(s *concurrency.Session, cancel context.CancelFunc, m *concurrency.Mutex, rec lock.Holder, fresh bool) *held {
	rec.Token = uint64(createRevision(m))
	rctx, rcancel := context.WithCancel(context.Background())
	l := &held{b: b, s: s, cancel: cancel, m: m, key: m.Key(), rec: rec,
		lost: make(chan struct{}), released: make(chan struct{}),
		recCancel: rcancel, recDone: make(chan struct{})}
	if fresh {
		close(l.recDone)
	} else {
		go l.record(rctx)
	}
	go l.watchLease()
	return l
}

// createRevision is the create revision of the mutex's key, read from the
// comparison IsOwner builds from it.
func createRevision(m *concurrency.Mutex) int64 {
	c := m.IsOwner()
	if t, ok := c.GetCompare().GetTargetUnion().(*pb.Compare_CreateRevision); ok {
		return t.CreateRevision
	}
	return 0
}

// record writes the holder record on our key, only while it is ours: a txn
// with no write would be answered from local state, and after a pause the
// lease may be gone while this goroutine already runs again. A failed guard
// means the lock is lost.
func (l *held) record(ctx context.Context) {
	defer close(l.recDone)
	var resp *clientv3.TxnResponse
	err := l.b.retryNoLeader(ctx, func(ctx context.Context) error {
		var err error
		resp, err = l.b.cli.Txn(ctx).If(l.m.IsOwner()).
			Then(clientv3.OpPut(l.key, encode(l.rec), clientv3.WithLease(l.s.Lease()))).
			Commit()
		return err
	})
	if err == nil && !resp.Succeeded {
		l.markLost()
	}
	// Any other failure leaves the record from when we queued; the lock
	// itself is unaffected, and a lost lease is caught by watchLease.
}

// watchLease closes lost when the lease dies before Release: the client's
// own deadline passed without a renewal (partitioned, paused past the TTL)
// or etcd said the lease is gone.
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

func (l *held) Token() uint64             { return l.rec.Token }
func (l *held) Lost() <-chan struct{}     { return l.lost }
func (l *held) Holder() lock.Holder       { return l.rec }
func (l *held) LeaseID() clientv3.LeaseID { return l.s.Lease() }

// Unlink deletes the lock key, only while it is still ours (the token
// guards the delete); the lease ends with Release.
func (l *held) Unlink() error {
	rctx, cancel := l.b.reqCtx(context.Background())
	defer cancel()
	resp, err := l.b.cli.Txn(rctx).If(l.m.IsOwner()).Then(clientv3.OpDelete(l.key)).Commit()
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
		<-l.recDone
		err = l.b.endSession(l.s, l.cancel)
	})
	return err
}
