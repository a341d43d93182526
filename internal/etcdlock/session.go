package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// session is one holder's lease, kept alive until it is ended or lost.
//
// The lease deadline is measured on our own clock from when the last
// successful renewal was *sent*: etcd restarts the lease's TTL only once
// it receives a renewal, so its expiry is never earlier than ours, and no
// other holder can get the lock before our deadline. done closes Margin
// before that deadline, so the command is torn down while the lock is
// still ours: a holder and its successor never overlap (TestNoOverlapCut).
type session struct {
	b  *Backend
	id int64

	mu       sync.Mutex
	deadline time.Time // sent time of the last good renewal + TTL

	done     chan struct{} // closed when the lease is (about to be) lost
	doneOnce sync.Once
	stop     chan struct{} // closed by end
	stopOnce sync.Once
	loop     chan struct{} // closed when the renewal loop returned
}

// session grants this holder's own lease and starts renewing it. The
// renewals do not run under ctx: the lease must outlive Acquire, and ends
// with end.
func (b *Backend) session(ctx context.Context) (*session, error) {
	ttl := int64(b.cfg.ttlSeconds())
	var sent time.Time
	var resp leaseResponse
	err := b.retryNoLeader(ctx, func(ctx context.Context) error {
		sent = time.Now()
		return b.c.call(ctx, "/v3/lease/grant", leaseRequest{TTL: ttl}, &resp)
	})
	if err != nil {
		return nil, b.wrap("grant lease", fmt.Sprintf("(ttl %ds)", ttl), err)
	}
	if resp.ID == 0 || resp.TTL <= 0 {
		return nil, fmt.Errorf("etcd grant lease (ttl %ds): etcd granted lease %x with ttl %d", ttl, resp.ID, resp.TTL)
	}
	s := &session{b: b, id: resp.ID, deadline: sent.Add(time.Duration(resp.TTL) * time.Second),
		done: make(chan struct{}), stop: make(chan struct{}), loop: make(chan struct{})}
	go s.keepAlive(time.Duration(resp.TTL) * time.Second)
	return s, nil
}

// Done is closed once the lease is lost, or Margin before its deadline
// passes without a renewal.
func (s *session) Done() <-chan struct{} { return s.done }

func (s *session) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *session) lose() { s.doneOnce.Do(func() { close(s.done) }) }

// keepAlive renews the lease every TTL/3 (sooner again after a failed
// renewal, on the next endpoint) and closes done when the lease's deadline
// minus the margin passes without a successful renewal, or etcd says the
// lease is gone.
func (s *session) keepAlive(ttl time.Duration) {
	defer close(s.loop)
	every := ttl / 3
	next := time.Now().Add(every)
	for {
		s.mu.Lock()
		cutoff := s.deadline.Add(-s.b.cfg.Margin)
		s.mu.Unlock()
		now := time.Now()
		if !now.Before(cutoff) { // also after a pause: checked before anything else
			s.lose()
			return
		}
		if !now.Before(next) {
			got, err := s.renew(now, cutoff)
			switch {
			case err == nil && got <= 0: // etcd: the lease is gone
				s.lose()
				return
			case err == nil:
				s.mu.Lock()
				s.deadline = now.Add(got) // from when the renewal was sent
				s.mu.Unlock()
				next = now.Add(every)
			default:
				next = time.Now().Add(retryEvery)
			}
			continue
		}
		t := time.NewTimer(min(next.Sub(now), cutoff.Sub(now)))
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// retryEvery paces retries after a failed request.
const retryEvery = 100 * time.Millisecond

// renew sends one renewal (at sent, now), bounded by a third of
// CCCI_ETCD_TIMEOUT and by cutoff (an answer after it comes too late to
// count), and returns the TTL etcd restarted, 0 if the lease is gone.
func (s *session) renew(sent, cutoff time.Time) (time.Duration, error) {
	end := sent.Add(s.b.cfg.Timeout / 3)
	if cutoff.Before(end) {
		end = cutoff
	}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	var resp struct {
		Result leaseResponse `json:"result"`
		Error  *rpcError     `json:"error"`
	}
	if err := s.b.c.call(ctx, "/v3/lease/keepalive", leaseRequest{ID: s.id}, &resp); err != nil {
		return 0, err
	}
	if resp.Error != nil {
		if retryable(resp.Error) {
			_, i := s.b.c.endpoint()
			s.b.c.failover(i)
		}
		return 0, resp.Error
	}
	return time.Duration(resp.Result.TTL) * time.Second, nil
}

// end revokes the lease, which deletes every key of this holder (its lock
// or its place in the queue) at once, then stops renewing it. Revoking
// first: the renewal loop's shutdown is not on the path to the next
// waiter's wake-up. A lease already gone is no error: its keys are gone.
func (s *session) end() error {
	defer func() {
		s.stopOnce.Do(func() { close(s.stop) })
		<-s.loop
	}()
	err := s.b.retryNoLeader(context.Background(), func(ctx context.Context) error {
		var resp struct{}
		return s.b.c.call(ctx, "/v3/lease/revoke", leaseRequest{ID: s.id}, &resp)
	})
	var re *rpcError
	if errors.As(err, &re) && re.Error() == msgLeaseNotFound {
		err = nil
	}
	if err != nil {
		return s.b.wrap("revoke lease", fmt.Sprintf("%x", s.id), err)
	}
	return nil
}
