package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

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
	lost   chan struct{}

	once     sync.Once
	released chan struct{}
}

// hold records the holder on our key and watches the lease. The write is
// guarded by IsOwner (our key's create revision, the token): a txn with no
// write would be answered from local state, and after a pause the lease
// may be gone while this goroutine already runs again.
func (b *Backend) hold(ctx context.Context, s *concurrency.Session, cancel context.CancelFunc, m *concurrency.Mutex, pfx string, rec lock.Holder) (*held, error) {
	key := m.Key()
	var resp *clientv3.TxnResponse
	err := b.retryNoLeader(ctx, func(ctx context.Context) error {
		var err error
		resp, err = b.cli.Txn(ctx).If(m.IsOwner()).
			Then(clientv3.OpPut(key, encode(rec), clientv3.WithLease(s.Lease())), clientv3.OpGet(key)).
			Commit()
		return err
	})
	if err != nil {
		return nil, b.wrap("record holder", key, err)
	}
	if !resp.Succeeded {
		return nil, fmt.Errorf("etcd lock %s: lost before it was recorded (lease %x expired)", pfx, s.Lease())
	}
	kvs := resp.Responses[1].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, fmt.Errorf("etcd lock %s: key %s vanished after it was recorded", pfx, key)
	}
	rec.Token = uint64(kvs[0].CreateRevision)
	l := &held{b: b, s: s, cancel: cancel, m: m, key: key, rec: rec,
		lost: make(chan struct{}), released: make(chan struct{})}
	go l.watchLease()
	return l, nil
}

// watchLease closes lost when the lease dies before Release: the client's
// own deadline passed without a renewal (partitioned, paused past the TTL)
// or etcd said the lease is gone.
func (l *held) watchLease() {
	select {
	case <-l.s.Done():
		select {
		case <-l.released:
		default:
			close(l.lost)
		}
	case <-l.released:
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
// next waiter. Revoking only ever touches this holder's own keys, so a stale
// holder cannot release a newer holder's lock.
func (l *held) Release() error {
	err := os.ErrClosed
	l.once.Do(func() {
		close(l.released)
		err = l.b.endSession(l.s, l.cancel)
	})
	return err
}
