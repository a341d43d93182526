package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// Acquire takes domain's lock. Free, it costs two requests after the lease:
// one txn queues our key with the holder record as its value and reads the
// oldest key, then the mutex's TryLock, a read-only txn. Held, it reports
// the holder from that same read, and the mutex waits for the keys ahead of
// ours to go.
func (b *Backend) Acquire(ctx context.Context, r lock.Request) (lock.Lock, error) {
	if r.Shared {
		return nil, errors.New("etcd lock backend: shared locks (-s) are not supported; use the file backend")
	}
	pfx, err := b.pfx(r.Domain)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s, cancelSession, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	held := false
	defer func() {
		if !held {
			b.endSession(s, cancelSession)
		}
	}()
	owner, first, err := b.enqueue(ctx, s, pfx, r.Holder)
	if err != nil {
		return nil, err
	}
	m := concurrency.NewMutex(s, pfx)
	rec, fresh := r.Holder, true
	if first {
		// Our key is there and the oldest: TryLock only reads it back
		// (its put is conditional on the key being absent), to set the
		// mutex's key and revision that IsOwner guards with.
		err = b.retryNoLeader(ctx, func(ctx context.Context) error { return m.TryLock(ctx) })
		if errors.Is(err, concurrency.ErrLocked) {
			// Our key vanished (lease lost) and an older came meanwhile:
			// TryLock took ours out; queue again, unrecorded.
			first, fresh = false, false
		} else if err != nil {
			return nil, b.wrap("lock", pfx, err)
		}
	}
	if !first {
		if r.NonBlock {
			return nil, lock.ErrWouldBlock
		}
		if err := b.wait(ctx, s, m, pfx, r, owner, start); err != nil {
			return nil, err
		}
		// The record on our key says since when we queued; the one
		// written after acquiring says since when we hold.
		rec.Since, fresh = time.Now(), false
	}
	l := b.hold(s, cancelSession, m, rec, fresh)
	held = true
	if r.Notify != nil {
		r.Notify(lock.Event{Kind: lock.Acquired, Domain: r.Domain, Holder: l.rec, Waited: time.Since(start)})
	}
	return l, nil
}

// enqueue puts our key (the one the mutex computes: pfx/<lease in hex>)
// with rec as its value, unless it exists already (a retried request that
// did reach etcd), and reads the oldest key under pfx in the same txn: the
// holder, first when it is ours. The holder record is thus on the key
// before the lock is ours, and waiters learn whom they wait for without
// another request.
func (b *Backend) enqueue(ctx context.Context, s *concurrency.Session, pfx string, rec lock.Holder) (owner lock.Holder, first bool, err error) {
	key := fmt.Sprintf("%s/%x", pfx, s.Lease())
	var resp *clientv3.TxnResponse
	err = b.retryNoLeader(ctx, func(ctx context.Context) error {
		var err error
		resp, err = b.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, encode(rec), clientv3.WithLease(s.Lease())), clientv3.OpGet(pfx+"/", clientv3.WithFirstCreate()...)).
			Else(clientv3.OpGet(key), clientv3.OpGet(pfx+"/", clientv3.WithFirstCreate()...)).
			Commit()
		return err
	})
	if err != nil {
		return owner, false, b.wrap("queue", key, err)
	}
	mine := resp.Header.Revision
	if !resp.Succeeded {
		mine = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	kvs := resp.Responses[1].GetResponseRange().Kvs
	if len(kvs) == 0 { // not even ours: its lease died meanwhile
		return owner, false, fmt.Errorf("etcd lock %s: lease %x expired before the key was queued", pfx, s.Lease())
	}
	owner = decode(kvs[0].Value)
	owner.Token = uint64(kvs[0].CreateRevision)
	return owner, kvs[0].CreateRevision == mine, nil
}

// session grants this holder's own lease and keeps it alive. Its context is
// not ctx: the lease must outlive Acquire, and ends with Release.
func (b *Backend) session(ctx context.Context) (*concurrency.Session, context.CancelFunc, error) {
	var id clientv3.LeaseID
	err := b.retryNoLeader(ctx, func(ctx context.Context) error {
		resp, err := b.cli.Grant(ctx, int64(b.cfg.ttlSeconds()))
		if err == nil {
			id = resp.ID
		}
		return err
	})
	if err != nil {
		return nil, nil, b.wrap("grant lease", fmt.Sprintf("(ttl %ds)", b.cfg.ttlSeconds()), err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s, err := concurrency.NewSession(b.cli, concurrency.WithLease(id),
		concurrency.WithTTL(b.cfg.ttlSeconds()), concurrency.WithContext(sctx))
	if err != nil {
		cancel()
		return nil, nil, b.wrap("keep lease alive", fmt.Sprintf("%x", id), err)
	}
	return s, cancel, nil
}

// endSession revokes the lease, which deletes every key of this holder (its
// lock or its place in the queue) at once, then stops renewing it. Revoking
// first: the renewal loop's shutdown is not on the path to the next
// waiter's wake-up.
func (b *Backend) endSession(s *concurrency.Session, cancel context.CancelFunc) error {
	defer cancel()
	defer s.Orphan()
	rctx, c := b.reqCtx(context.Background())
	defer c()
	_, err := b.cli.Revoke(rctx, s.Lease())
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		err = nil // expired already: its keys are gone
	}
	if err != nil {
		return b.wrap("revoke lease", fmt.Sprintf("%x", s.Lease()), err)
	}
	return nil
}

// retryNoLeader runs op, again while the cluster is between leaders, until
// CCCI_ETCD_TIMEOUT: an election (a member died) takes a second or two and
// must not fail a run; a lost quorum must. Each attempt gets a third of the
// timeout, since a request sent to a member that still follows a dead leader
// is never answered. Every op given here is idempotent for its session (the
// mutex key is the lease's own; a lease granted twice expires unused).
func (b *Backend) retryNoLeader(ctx context.Context, op func(context.Context) error) error {
	end, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	for {
		actx, c := context.WithTimeout(end, b.cfg.Timeout/3)
		err := op(clientv3.WithRequireLeader(actx))
		attemptTimedOut := actx.Err() != nil
		c()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case end.Err() != nil:
			if errors.Is(err, rpctypes.ErrNoLeader) {
				return fmt.Errorf("%w for %v (the cluster has lost its quorum?)", err, b.cfg.Timeout)
			}
			return context.DeadlineExceeded
		case !attemptTimedOut && !retryable(err):
			return err
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-end.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// retryable errors say the cluster is electing a leader.
func retryable(err error) bool {
	for _, e := range []error{rpctypes.ErrNoLeader, rpctypes.ErrLeaderChanged, rpctypes.ErrTimeout,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// wait queues behind the holder and blocks until the lock is ours, r.Wait
// passes, ctx ends, or our lease dies (partitioned while waiting).
func (b *Backend) wait(ctx context.Context, s *concurrency.Session, m *concurrency.Mutex, pfx string, r lock.Request, owner lock.Holder, start time.Time) error {
	notify := func(kind lock.EventKind) {
		if r.Notify == nil {
			return
		}
		ev := lock.Event{Kind: kind, Domain: r.Domain, Waited: time.Since(start)}
		if h, err := b.holder(ctx, pfx); err == nil && h != nil {
			ev.Holder = *h
		}
		r.Notify(ev)
	}
	if r.Notify != nil {
		r.Notify(lock.Event{Kind: lock.Waiting, Domain: r.Domain, Holder: owner, Waited: time.Since(start)})
	}

	wctx, cancel := context.WithCancel(ctx)
	if r.Wait > 0 {
		wctx, cancel = context.WithTimeout(ctx, r.Wait)
	}
	defer cancel()
	done := make(chan error, 1)
	// The watch requires a leader: without quorum for a few election
	// timeouts the server ends it, so a waiter errs rather than hangs.
	go func() { done <- m.Lock(clientv3.WithRequireLeader(wctx)) }()
	still := time.NewTicker(lock.StillEvery)
	defer still.Stop()
	// Cancellation, the -w timeout and a dead lease end the wait here, not
	// through Lock's return: the deferred revoke deletes our place in the
	// queue whatever Lock's goroutine is doing.
	for {
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			if ctx.Err() == nil && wctx.Err() == nil && !sessionDone(s) {
				return b.wrap("wait for lock", pfx, err)
			}
			done = nil // one of the cases below is ready
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return lock.ErrTimeout
		case <-s.Done():
			return fmt.Errorf("etcd lock %s: lease %x expired while waiting (etcd unreachable?)", pfx, s.Lease())
		case <-still.C:
			notify(lock.StillWaiting)
		}
	}
}

func sessionDone(s *concurrency.Session) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}
