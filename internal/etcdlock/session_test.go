package etcdlock

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestDeadlineFromSent: the lease deadline runs from when a renewal was
// sent, not from when its answer came: with answers 600ms late and then
// none at all, Done closes by the last renewal's arrival at etcd + TTL -
// margin (etcd's expiry is never earlier than that), where a deadline
// counted from the answer would close it 600ms later.
func TestDeadlineFromSent(t *testing.T) {
	const delay = 600 * time.Millisecond
	var mu sync.Mutex
	var last time.Time // arrival of the last renewal answered
	silent := make(chan struct{})
	var silentOnce sync.Once
	renewals := 0
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/v3/lease/grant":
			mu.Lock()
			last = time.Now()
			mu.Unlock()
			w.Write([]byte(`{"ID":"7","TTL":"3"}`))
		case "/v3/lease/keepalive":
			arrived := time.Now()
			mu.Lock()
			renewals++
			n := renewals
			mu.Unlock()
			if n > 2 { // then etcd is unreachable: no answer
				silentOnce.Do(func() { close(silent) })
				select {
				case <-r.Context().Done():
				case <-quit:
				}
				return
			}
			time.Sleep(delay)
			mu.Lock()
			last = arrived
			mu.Unlock()
			w.Write([]byte(`{"result":{"ID":"7","TTL":"3"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(quit) // before Close, which waits for the handlers
	cfg := Config{Endpoints: []string{srv.URL}, TTL: 3 * time.Second, Timeout: 3 * time.Second, KeepAlive: DefaultKeepAlive, Margin: 750 * time.Millisecond}
	b, _ := New(cfg)
	defer b.Close()
	s, err := b.session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.stopOnce.Do(func() { close(s.stop) }) }()
	select {
	case <-s.Done():
	case <-time.After(deadline):
		t.Fatal("Done never closed")
	}
	lost := time.Now()
	<-silent
	mu.Lock()
	bound := last.Add(cfg.TTL - cfg.Margin)
	mu.Unlock()
	t.Logf("Done %v after the last answered renewal arrived (bound %v)", lost.Sub(last), bound.Sub(last))
	if lost.After(bound.Add(50 * time.Millisecond)) {
		t.Fatalf("Done closed %v after the bound: the deadline was counted from the answer", lost.Sub(bound))
	}
}
