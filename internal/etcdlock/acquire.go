package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// Acquire takes domain's lock, as etcd's concurrency.Mutex does: a lease
// of our own, our key PREFIX<domain>/<lease in hex> under it, and the
// oldest key (by create revision) holds the lock. Free, it costs two
// requests: the lease grant, and one txn that queues our key with the
// holder record as its value and reads the oldest key. Held, it reports
// the holder from that same read, and waits for the keys ahead of ours to
// go.
func (b *Backend) Acquire(ctx context.Context, r lock.Request) (lock.Lock, error) {
	if r.Shared {
		return nil, errors.New("etcd lock backend: shared locks (-s) are not supported; use the file backend")
	}
	pfx, err := b.pfx(r.Domain)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	held := false
	defer func() {
		if !held {
			s.end()
		}
	}()
	key := fmt.Sprintf("%s/%x", pfx, s.id)
	owner, mine, first, err := b.enqueue(ctx, s, pfx, key, r.Holder)
	if err != nil {
		return nil, err
	}
	rec, fresh := r.Holder, true
	if !first {
		if r.NonBlock {
			return nil, lock.ErrWouldBlock
		}
		if err := b.wait(ctx, s, pfx, key, mine, r, owner, start); err != nil {
			return nil, err
		}
		// The record on our key says since when we queued; the one
		// written after acquiring says since when we hold.
		rec.Since, fresh = time.Now(), false
	}
	l := b.hold(s, key, mine, rec, fresh)
	held = true
	if r.Notify != nil {
		r.Notify(lock.Event{Kind: lock.Acquired, Domain: r.Domain, Holder: l.rec, Waited: time.Since(start)})
	}
	return l, nil
}

// enqueue puts our key with rec as its value, unless it exists already (a
// retried request that did reach etcd), and reads the oldest key under pfx
// in the same txn: the holder, first when it is ours. The holder record is
// thus on the key before the lock is ours, and waiters learn whom they
// wait for without another request. mine is our key's create revision.
func (b *Backend) enqueue(ctx context.Context, s *session, pfx, key string, rec lock.Holder) (owner lock.Holder, mine int64, first bool, err error) {
	oldest := firstCreate()
	oldest.Key, oldest.RangeEnd = []byte(pfx+"/"), prefixEnd(pfx+"/")
	var resp *txnResponse
	err = b.retryNoLeader(ctx, func(ctx context.Context) (err error) {
		resp, err = b.c.txn(ctx, txnRequest{
			Compare: []compare{createRevIs(key, 0)},
			Success: []requestOp{{Put: &putRequest{Key: []byte(key), Value: encode(rec), Lease: s.id}}, {Range: &oldest}},
			Failure: []requestOp{{Range: &rangeRequest{Key: []byte(key)}}, {Range: &oldest}},
		})
		return err
	})
	if err != nil {
		return owner, 0, false, b.wrap("queue", key, err)
	}
	mine = resp.Header.Revision
	if len(resp.Responses) != 2 || resp.Responses[1].Range == nil || (!resp.Succeeded && resp.Responses[0].Range == nil) {
		return owner, 0, false, fmt.Errorf("etcd queue %s: unexpected answer %+v", key, resp)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].Range.Kvs
		if len(kvs) == 0 {
			return owner, 0, false, fmt.Errorf("etcd queue %s: key gone (lease %x expired?)", key, s.id)
		}
		mine = kvs[0].CreateRevision
	}
	kvs := resp.Responses[1].Range.Kvs
	if len(kvs) == 0 { // not even ours: its lease died meanwhile
		return owner, 0, false, fmt.Errorf("etcd lock %s: lease %x expired before the key was queued", pfx, s.id)
	}
	owner = decode(kvs[0].Value)
	owner.Token = uint64(kvs[0].CreateRevision)
	return owner, mine, kvs[0].CreateRevision == mine, nil
}

// wait queues behind the holder and blocks until the lock is ours, r.Wait
// passes, ctx ends, or our lease dies (partitioned while waiting).
func (b *Backend) wait(ctx context.Context, s *session, pfx, key string, mine int64, r lock.Request, owner lock.Holder, start time.Time) error {
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
	go func() { done <- b.waitDeletes(wctx, s, pfx, key, mine) }()
	still := time.NewTicker(lock.StillEvery)
	defer still.Stop()
	// Cancellation, the -w timeout and a dead lease end the wait here, not
	// through waitDeletes's return: the deferred revoke deletes our place
	// in the queue whatever its goroutine is doing.
	for {
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			if ctx.Err() == nil && wctx.Err() == nil && !s.isDone() {
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
			return fmt.Errorf("etcd lock %s: lease %x expired while waiting (etcd unreachable?)", pfx, s.id)
		case <-still.C:
			notify(lock.StillWaiting)
		}
	}
}

// waitDeletes returns once no key under pfx older than ours is left, and
// ours is still there (a key that expired meanwhile would leave an empty
// queue behind it, not a lock): each round reads, in one txn, the youngest
// key ahead of ours, the oldest key and our own, and watches the one ahead
// until it is deleted (each waiter watches only its neighbour, so a release
// wakes one waiter, not the herd). When the key ahead was also the oldest
// (the holder, nobody between), its deletion makes ours the oldest: the
// lock is ours without another read, as long as our lease is alive. A
// failed watch (member down, connection lost) reads again, through the
// next endpoint.
func (b *Backend) waitDeletes(ctx context.Context, s *session, pfx, key string, mine int64) error {
	ahead := rangeRequest{Key: []byte(pfx + "/"), RangeEnd: prefixEnd(pfx + "/"),
		Limit: 1, SortOrder: "DESCEND", SortTarget: "CREATE", MaxCreateRevision: mine - 1}
	oldest := firstCreate()
	oldest.Key, oldest.RangeEnd = ahead.Key, ahead.RangeEnd
	read := txnRequest{Success: []requestOp{{Range: &ahead}, {Range: &rangeRequest{Key: []byte(key)}}, {Range: &oldest}}}
	for {
		var resp *txnResponse
		err := b.retryNoLeader(ctx, func(ctx context.Context) (err error) {
			resp, err = b.c.txn(ctx, read)
			return err
		})
		if err != nil {
			return err
		}
		if len(resp.Responses) != 3 || resp.Responses[0].Range == nil || resp.Responses[1].Range == nil || resp.Responses[2].Range == nil {
			return fmt.Errorf("etcd read %s: unexpected answer %+v", pfx, resp)
		}
		if own := resp.Responses[1].Range.Kvs; len(own) == 0 || own[0].CreateRevision != mine {
			return fmt.Errorf("lease %x expired while waiting: our key is gone", s.id)
		}
		kvs := resp.Responses[0].Range.Kvs
		if len(kvs) == 0 {
			return nil
		}
		last := resp.Responses[2].Range.Kvs[0].CreateRevision == kvs[0].CreateRevision
		err = b.c.waitDelete(ctx, string(kvs[0].Key), resp.Header.Revision)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && last && !s.isDone() {
			return nil
		}
		if err != nil {
			if s.isDone() {
				return err
			}
			t := time.NewTimer(retryEvery)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}
