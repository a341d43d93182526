package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// deadline bounds every wait in these tests; they wait on conditions.
const deadline = 30 * time.Second

// backend opens a backend on c with a prefix of the test's own.
func backend(t *testing.T, c *cluster, extra ...string) *Backend {
	t.Helper()
	env := &applet.Env{Environ: append([]string{
		"CCCI_ETCD_ENDPOINTS=" + c.endpoints,
		"CCCI_ETCD_PREFIX=/test/" + t.Name() + "/",
	}, extra...)}
	b, err := Open(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return c
}

func req(domain, run string) lock.Request {
	return lock.Request{Domain: domain, Holder: lock.Holder{Run: run, PID: 4242, Host: "host-" + run, Since: time.Now().UTC().Truncate(time.Second)}}
}

// TestSerialized: holders on separate clients (separate "hosts") never
// overlap, and each gets a larger token than the one before.
func TestSerialized(t *testing.T) {
	c := sharedCluster(t)
	const n, rounds = 4, 5
	var inside atomic.Int32
	var mu sync.Mutex
	var last uint64
	var wg sync.WaitGroup
	errs := make(chan error, n*rounds)
	for i := 0; i < n; i++ {
		b := backend(t, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				l, err := b.Acquire(ctx(t), req("app.example.org", fmt.Sprint(i)))
				if err != nil {
					errs <- err
					return
				}
				if inside.Add(1) != 1 {
					errs <- errors.New("two holders at once")
				}
				mu.Lock()
				if l.Token() <= last {
					errs <- fmt.Errorf("token %d after %d", l.Token(), last)
				}
				last = l.Token()
				mu.Unlock()
				time.Sleep(time.Millisecond) // hold it a little, so others queue
				inside.Add(-1)
				if err := l.Release(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestWaitingNamesHolder: a waiter is told who holds the lock, then that it
// acquired, once the holder released; nothing is left under the prefix.
func TestWaitingNamesHolder(t *testing.T) {
	c := sharedCluster(t)
	a, b := backend(t, c), backend(t, c)
	la, err := a.Acquire(ctx(t), req("x.org", "run-a"))
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan lock.Event, 10)
	r := req("x.org", "run-b")
	r.Notify = func(e lock.Event) { events <- e }
	got := make(chan error, 1)
	var lb lock.Lock
	go func() {
		var err error
		lb, err = b.Acquire(ctx(t), r)
		got <- err
	}()
	e := <-events
	if e.Kind != lock.Waiting || e.Holder.Run != "run-a" || e.Holder.Host != "host-run-a" || e.Holder.Token != la.Token() {
		t.Fatalf("first event %+v, want Waiting for run-a with token %d", e, la.Token())
	}
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.Kind != lock.Acquired || e.Holder.Run != "run-b" || e.Holder.Token != lb.Token() {
		t.Fatalf("second event %+v, want Acquired as run-b", e)
	}
	if lb.Token() <= la.Token() {
		t.Errorf("token %d not above %d", lb.Token(), la.Token())
	}
	held, h, err := a.Probe(ctx(t), "x.org")
	if err != nil || !held || h.Run != "run-b" || h.Token != lb.Token() {
		t.Fatalf("probe while b holds: %v %+v %v", held, h, err)
	}
	lb.Release()
	if held, _, err := a.Probe(ctx(t), "x.org"); err != nil || held {
		t.Fatalf("probe after release: held=%v err=%v", held, err)
	}
}

// TestNonBlockAndTimeout: -n fails at once, -w after its wait, ctx
// cancellation at once; none leaves a key behind.
func TestNonBlockAndTimeout(t *testing.T) {
	c := sharedCluster(t)
	a, b := backend(t, c), backend(t, c)
	la, err := a.Acquire(ctx(t), req("nb.org", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	cctx, cancel := context.WithCancel(ctx(t))
	tests := []struct {
		name string
		mod  func(*lock.Request)
		ctx  context.Context
		want error
	}{
		{"nonblock", func(r *lock.Request) { r.NonBlock = true }, ctx(t), lock.ErrWouldBlock},
		{"wait", func(r *lock.Request) { r.Wait = 200 * time.Millisecond }, ctx(t), lock.ErrTimeout},
		{"cancel", func(r *lock.Request) {
			r.Notify = func(e lock.Event) {
				if e.Kind == lock.Waiting {
					cancel()
				}
			}
		}, cctx, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req("nb.org", "b")
			tt.mod(&r)
			l, err := b.Acquire(tt.ctx, r)
			if !errors.Is(err, tt.want) {
				if l != nil {
					l.Release()
				}
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			st, err := a.Status(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 || st[0].Holder.Token != la.Token() {
				t.Fatalf("status %+v, want only a's lock", st)
			}
			resp, err := a.c.rangePrefix(ctx(t), a.cfg.Prefix, rangeRequest{})
			if err != nil || len(resp.Kvs) != 1 {
				t.Fatalf("keys under prefix: %v %v, want only the holder's", resp, err)
			}
		})
	}
}

// TestStatus lists each held lock with its holder, not its waiters.
func TestStatus(t *testing.T) {
	c := sharedCluster(t)
	b := backend(t, c)
	for _, d := range []string{"b.org", "a.org"} {
		l, err := b.Acquire(ctx(t), req(d, "run-"+d))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
	}
	st, err := b.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Domain != "a.org" || st[1].Domain != "b.org" || st[0].Holder.Run != "run-a.org" || !st[1].Held {
		t.Fatalf("status %+v", st)
	}
}

// TestUnlink deletes the key while held; the lock is free at once, and a
// second Unlink (no longer the owner) deletes nothing.
func TestUnlink(t *testing.T) {
	c := sharedCluster(t)
	b := backend(t, c)
	l, err := b.Acquire(ctx(t), req("u.org", "j"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Unlink(); err != nil {
		t.Fatal(err)
	}
	if held, _, _ := b.Probe(ctx(t), "u.org"); held {
		t.Fatal("held after Unlink")
	}
	l2, err := b.Acquire(ctx(t), lock.Request{Domain: "u.org", NonBlock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if err := l.Unlink(); !errors.Is(err, errLost) {
		t.Fatalf("second Unlink: %v, want %v", err, errLost)
	}
	if held, _, _ := b.Probe(ctx(t), "u.org"); !held {
		t.Fatal("stale Unlink deleted the new holder's key")
	}
}

// TestLostLease: the lease revoked under the holder (as etcd does when it
// expires) closes Lost; a waiter gets the lock; the stale holder's guarded
// writes touch nothing of the new holder's.
func TestLostLease(t *testing.T) {
	c := sharedCluster(t)
	a, b := backend(t, c, "CCCI_ETCD_TTL=2s"), backend(t, c)
	la, err := a.Acquire(ctx(t), req("lost.org", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	got := make(chan lock.Lock, 1)
	go func() {
		l, err := b.Acquire(ctx(t), req("lost.org", "b"))
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	if err := b.c.call(ctx(t), "/v3/lease/revoke", leaseRequest{ID: la.(*held).LeaseID()}, &struct{}{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Lost():
	case <-time.After(deadline):
		t.Fatal("Lost not closed after the lease was revoked")
	}
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	defer lb.Release()
	if err := la.Unlink(); !errors.Is(err, errLost) {
		t.Fatalf("stale Unlink: %v", err)
	}
	la.Release()
	if _, h, _ := b.Probe(ctx(t), "lost.org"); h == nil || h.Run != "b" {
		t.Fatalf("holder after stale release: %+v", h)
	}
	select {
	case <-lb.Lost():
		t.Fatal("new holder lost its lock")
	default:
	}
}

// TestShared is refused: etcd's mutex has no shared mode.
func TestShared(t *testing.T) {
	b := backend(t, sharedCluster(t))
	if _, err := b.Acquire(ctx(t), lock.Request{Domain: "s.org", Shared: true}); err == nil || !strings.Contains(err.Error(), "shared") {
		t.Fatalf("got %v", err)
	}
}

// TestMembersLost: with one member of three dead, locks still pass from
// holder to holder; with two dead, Acquire fails with a clear error — no
// hang, no lock.
func TestMembersLost(t *testing.T) {
	c := ownCluster(t)
	b := backend(t, c, "CCCI_ETCD_TIMEOUT=3s")
	l, err := b.Acquire(ctx(t), req("q.org", "before"))
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	// Kill the leader: the harder case, an election runs.
	leader, err := c.run("leader")
	if err != nil {
		t.Fatal(err)
	}
	leader = strings.TrimSpace(leader)
	if _, err := c.run("kill", leader); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		l, err := b.Acquire(ctx(t), req("q.org", "one-down"))
		if err != nil {
			t.Fatalf("leader (member %s) down, acquire %d: %v", leader, i, err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("leader down, release %d: %v", i, err)
		}
	}
	other := map[string]string{"0": "1", "1": "2", "2": "0"}[leader]
	if _, err := c.run("kill", other); err != nil {
		t.Fatal(err)
	}
	l, err = b.Acquire(ctx(t), req("q.org", "no-quorum"))
	if err == nil {
		l.Release()
		t.Fatal("acquired a lock without quorum")
	}
	if !strings.Contains(err.Error(), "no leader") && !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("error does not say why: %v", err)
	}
	t.Logf("without quorum: %v", err)
}

// TestCancelWhileWatching: cancelling ctx ends a waiter that is already
// watching the holder's key, and takes its key out of the queue.
func TestCancelWhileWatching(t *testing.T) {
	c := sharedCluster(t)
	a, b := backend(t, c), backend(t, c)
	la, err := a.Acquire(ctx(t), req("cw.org", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	cctx, cancel := context.WithCancel(ctx(t))
	got := make(chan error, 1)
	go func() {
		l, err := b.Acquire(cctx, req("cw.org", "b"))
		if l != nil {
			l.Release()
		}
		got <- err
	}()
	// Queued: the waiter's key is under the prefix.
	end := time.Now().Add(deadline)
	for {
		resp, err := a.c.rangePrefix(ctx(t), a.cfg.Prefix, rangeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 2 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("waiter never queued")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(deadline):
		t.Fatal("waiter still waiting after its context was cancelled")
	}
	resp, err := a.c.rangePrefix(ctx(t), a.cfg.Prefix, rangeRequest{})
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("keys after cancel: %v %v, want only the holder's", resp, err)
	}
}

// TestRecordAfterWait: a waiter's key carries its record while it queues
// (readers still name the oldest key's holder); once it holds the lock it
// keeps that record until its command has started (lock.Started), so
// nothing is written while the command starts, and then the record says
// since when it holds, not since when it queued.
func TestRecordAfterWait(t *testing.T) {
	c := sharedCluster(t)
	a, b := backend(t, c), backend(t, c)
	la, err := a.Acquire(ctx(t), req("since.org", "a"))
	if err != nil {
		t.Fatal(err)
	}
	queued := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	r := req("since.org", "b")
	r.Holder.Since = queued
	got := acquireQueued(t, b, r)
	if _, h, err := a.Probe(ctx(t), "since.org"); err != nil || h == nil || h.Run != "a" {
		t.Fatalf("probe while b queues: %+v %v, want a", h, err)
	}
	released := time.Now()
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	defer lb.Release()
	if s := lb.(*held).Holder().Since; s.Before(released) {
		t.Fatalf("Holder().Since %v, before the release at %v", s, released)
	}
	if _, h, err := a.Probe(ctx(t), "since.org"); err != nil || h == nil || h.Run != "b" || !h.Since.Equal(queued) {
		t.Fatalf("probe before Started: %+v %v, want b's record from when it queued", h, err)
	}
	lock.Started(lb)
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		_, h, err := a.Probe(ctx(t), "since.org")
		if err != nil {
			t.Fatal(err)
		}
		if h == nil || h.Run != "b" || h.Token != lb.Token() {
			t.Fatalf("probe after handoff: %+v, want b with token %d", h, lb.Token())
		}
		if h.Since.Equal(lb.(*held).Holder().Since) {
			break
		}
		if !h.Since.Equal(queued) || time.Now().After(end) {
			t.Fatalf("record since %v, want %v (queued) then %v", h.Since, queued, lb.(*held).Holder().Since)
		}
	}
}

// TestFailover: the first endpoints listed are dead (connection refused)
// or silent (accepts, never answers, as a partitioned member): acquire,
// hand-off and release still work through the live ones, each request
// moving on to the next endpoint.
func TestFailover(t *testing.T) {
	c := sharedCluster(t)
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // never accepted: connects, no answer
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	eps := "CCCI_ETCD_ENDPOINTS=http://" + refusedAddr + ",http://" + silent.Addr().String() + "," + c.endpoints
	a := backend(t, c, eps, "CCCI_ETCD_TIMEOUT=3s")
	b := backend(t, c, eps, "CCCI_ETCD_TIMEOUT=3s")
	la, err := a.Acquire(ctx(t), req("fo.org", "a"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := b.Acquire(ctx(t), req("fo.org", "b"))
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		resp, err := a.c.rangePrefix(ctx(t), a.cfg.Prefix, rangeRequest{})
		if err == nil && len(resp.Kvs) == 2 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("b never queued")
		}
	}
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestReleaseBeforeStarted: a waiter's lock released before its command
// started (lock.Started never called) releases without waiting for a
// record write, and a Started after Release writes nothing: the key is
// gone, and nothing recreates it.
func TestReleaseBeforeStarted(t *testing.T) {
	c := sharedCluster(t)
	a, b := backend(t, c), backend(t, c)
	la, err := a.Acquire(ctx(t), req("unstarted.org", "a"))
	if err != nil {
		t.Fatal(err)
	}
	r := req("unstarted.org", "b")
	got := acquireQueued(t, b, r)
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	done := make(chan error, 1)
	go func() { done <- lb.Release() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(deadline):
		t.Fatal("Release of a lock never Started did not return")
	}
	lock.Started(lb)
	<-lb.(*held).recDone
	if held, h, err := a.Probe(ctx(t), "unstarted.org"); err != nil || held || h != nil {
		t.Fatalf("probe after release: held %v, %+v, %v; want free and no record", held, h, err)
	}
}

// acquireQueued starts b.Acquire(r) and returns once r is queued (its
// Waiting event seen); the lock arrives on the channel once acquired.
func acquireQueued(t *testing.T, b *Backend, r lock.Request) <-chan lock.Lock {
	t.Helper()
	waiting := make(chan struct{})
	r.Notify = func(e lock.Event) {
		if e.Kind == lock.Waiting {
			close(waiting)
		}
	}
	got := make(chan lock.Lock, 1)
	go func() {
		l, err := b.Acquire(ctx(t), r)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	<-waiting
	return got
}
