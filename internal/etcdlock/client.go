package etcdlock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/httpc"
)

// client speaks etcd's v3 HTTP/JSON gateway (served by every etcd >= 3.4
// on its client URLs, next to gRPC): each call is one POST of a JSON
// request to /v3/<service>/<method>, answered by one JSON message (or, for
// watch, a stream of them), over internal/httpc. No gRPC, protobuf or zap
// is linked, nor net/http.
//
// Requests go to one endpoint at a time; a transport failure or a "no
// leader" answer moves on to the next (failover), so one dead member costs
// one failed attempt.
type client struct {
	eps []string        // http://host:port, for messages
	hcs []*httpc.Client // one per endpoint
	cur atomic.Uint32   // index into eps of the endpoint in use

	mu    sync.Mutex
	moved chan struct{} // closed (and replaced) when cur changes
}

func newClient(cfg Config) *client {
	d := &net.Dialer{Timeout: cfg.Timeout / 3, KeepAlive: cfg.KeepAlive}
	c := &client{moved: make(chan struct{})}
	for _, ep := range cfg.Endpoints {
		hp, _ := hostPort(ep) // checked by ConfigFromEnv
		c.eps = append(c.eps, "http://"+hp)
		c.hcs = append(c.hcs, &httpc.Client{
			Host:        hp,
			Dial:        func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", hp) },
			MaxIdle:     4,
			IdleTimeout: 90 * time.Second,
		})
	}
	return c
}

func (c *client) close() {
	for _, hc := range c.hcs {
		hc.CloseIdle()
	}
}

// endpoint returns the endpoint in use and its index.
func (c *client) endpoint() (string, uint32) {
	i := c.cur.Load() % uint32(len(c.eps))
	return c.eps[i], i
}

// failover moves off endpoint i, unless another caller already did.
func (c *client) failover(i uint32) {
	if c.cur.CompareAndSwap(i, (i+1)%uint32(len(c.eps))) {
		c.mu.Lock()
		close(c.moved)
		c.moved = make(chan struct{})
		c.mu.Unlock()
	}
}

// unanswered moves off endpoint i after a request to it got no answer,
// unless the caller cancelled it: a silent member (partitioned, stopped)
// times the attempt out, a dead one refuses the connection.
func (c *client) unanswered(ctx context.Context, i uint32) {
	if !errors.Is(ctx.Err(), context.Canceled) {
		c.failover(i)
	}
}

// movedCh is closed once the endpoint in use changes.
func (c *client) movedCh() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moved
}

// rpcError is an error etcd answered with: gRPC code and message.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Err     string `json:"error"`
}

func (e *rpcError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Err
}

// Errors etcd answers with, by message (the gateway carries no other
// identity); the messages are etcd's rpctypes.
const (
	msgNoLeader      = "etcdserver: no leader"
	msgLeaseNotFound = "etcdserver: requested lease not found"
)

// errNoLeader is what a no-leader answer matches with errors.Is.
var errNoLeader = errors.New(msgNoLeader)

func (e *rpcError) Is(target error) bool { return target == errNoLeader && e.Error() == msgNoLeader }

// retryable reports whether err says the cluster is electing a leader or
// the member asked is unreachable: worth another attempt, on another
// endpoint.
func retryable(err error) bool {
	var re *rpcError
	if !errors.As(err, &re) {
		var te *transportError
		return errors.As(err, &te)
	}
	switch re.Error() {
	case msgNoLeader, "etcdserver: leader changed", "etcdserver: request timed out",
		"etcdserver: request timed out, possibly due to previous leader failure",
		"etcdserver: request timed out, possibly due to connection lost",
		"etcdserver: server stopped", "etcdserver: not capable":
		return true
	}
	return re.Code == 14 // Unavailable
}

// transportError is a request that got no answer from an endpoint.
type transportError struct {
	ep  string
	err error
}

func (e *transportError) Error() string { return e.ep + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// post sends one request to the endpoint in use and returns the response
// body for the caller to read and close. Every request requires a leader
// (gRPC metadata hasleader=true, as clientv3.WithRequireLeader): a member
// cut off from the majority answers "no leader" instead of hanging.
func (c *client) post(ctx context.Context, path string, in any) (io.ReadCloser, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	ep, i := c.endpoint()
	resp, err := c.hcs[i].Do(ctx, &httpc.Request{Method: "POST", Target: path, Body: body, Header: map[string]string{
		"Content-Type":            "application/json",
		"Grpc-Metadata-Hasleader": "true",
	}})
	if err != nil {
		c.unanswered(ctx, i)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{ep, err}
	}
	if resp.StatusCode != 200 {
		defer resp.Body.Close()
		re := &rpcError{}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, re) != nil || re.Error() == "" {
			re.Code, re.Message = 14, fmt.Sprintf("%s%s: HTTP %s: %.200s", ep, path, resp.Status, b)
		}
		if retryable(re) {
			c.failover(i)
		}
		return nil, re
	}
	return resp.Body, nil
}

// call is one unary request: in as JSON, the answer decoded into out.
func (c *client) call(ctx context.Context, path string, in, out any) error {
	body, err := c.post(ctx, path, in)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, 64<<20)).Decode(out); err != nil {
		ep, i := c.endpoint()
		c.unanswered(ctx, i)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &transportError{ep, fmt.Errorf("%s: reading the answer: %w", path, err)}
	}
	return nil
}

// Wire types: etcdserverpb's messages as the gateway's JSON marshaler
// writes them (original field names, int64 as strings, bytes as base64).

type header struct {
	Revision int64 `json:"revision,string"`
}

type keyValue struct {
	Key            []byte `json:"key"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
	Value          []byte `json:"value"`
	Lease          int64  `json:"lease,string"`
}

type rangeRequest struct {
	Key               []byte `json:"key"`
	RangeEnd          []byte `json:"range_end,omitempty"`
	Limit             int64  `json:"limit,string,omitempty"`
	SortOrder         string `json:"sort_order,omitempty"`  // ASCEND, DESCEND
	SortTarget        string `json:"sort_target,omitempty"` // KEY, CREATE
	MaxCreateRevision int64  `json:"max_create_revision,string,omitempty"`
}

type rangeResponse struct {
	Header header     `json:"header"`
	Kvs    []keyValue `json:"kvs"`
}

type putRequest struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
	Lease int64  `json:"lease,string,omitempty"`
}

type deleteRangeRequest struct {
	Key []byte `json:"key"`
}

// compare is a txn guard on a key's create revision (the only kind used):
// CreateRevision 0 means "the key does not exist".
type compare struct {
	Key            []byte `json:"key"`
	Target         string `json:"target"` // CREATE
	Result         string `json:"result"` // EQUAL
	CreateRevision int64  `json:"create_revision,string"`
}

func createRevIs(key string, rev int64) compare {
	return compare{Key: []byte(key), Target: "CREATE", Result: "EQUAL", CreateRevision: rev}
}

type requestOp struct {
	Range  *rangeRequest       `json:"request_range,omitempty"`
	Put    *putRequest         `json:"request_put,omitempty"`
	Delete *deleteRangeRequest `json:"request_delete_range,omitempty"`
}

type responseOp struct {
	Range *rangeResponse `json:"response_range"`
}

type txnRequest struct {
	Compare []compare   `json:"compare,omitempty"`
	Success []requestOp `json:"success,omitempty"`
	Failure []requestOp `json:"failure,omitempty"`
}

type txnResponse struct {
	Header    header       `json:"header"`
	Succeeded bool         `json:"succeeded"`
	Responses []responseOp `json:"responses"`
}

type leaseRequest struct {
	TTL int64 `json:"TTL,string,omitempty"`
	ID  int64 `json:"ID,string"`
}

type leaseResponse struct {
	ID  int64 `json:"ID,string"`
	TTL int64 `json:"TTL,string"`
}

// prefixEnd is the range end that covers every key starting with p.
func prefixEnd(p string) []byte {
	end := []byte(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0} // every key
}

// rangePrefix reads the keys under p; first (FirstCreate) or last
// (LastCreate, below maxCreate) by create revision when sort is "ASCEND" or
// "DESCEND" with limit 1; by key otherwise.
func (c *client) rangePrefix(ctx context.Context, p string, r rangeRequest) (*rangeResponse, error) {
	r.Key, r.RangeEnd = []byte(p), prefixEnd(p)
	var resp rangeResponse
	err := c.call(ctx, "/v3/kv/range", r, &resp)
	return &resp, err
}

func firstCreate() rangeRequest {
	return rangeRequest{Limit: 1, SortOrder: "ASCEND", SortTarget: "CREATE"}
}

func (c *client) txn(ctx context.Context, t txnRequest) (*txnResponse, error) {
	var resp txnResponse
	err := c.call(ctx, "/v3/kv/txn", t, &resp)
	return &resp, err
}

// watchEvent is one event of a watch stream.
type watchEvent struct {
	Type string   `json:"type"` // absent for PUT, "DELETE"
	Kv   keyValue `json:"kv"`
}

type watchResponse struct {
	Result *struct {
		Header   header       `json:"header"`
		Created  bool         `json:"created"`
		Canceled bool         `json:"canceled"`
		Reason   string       `json:"cancel_reason"`
		Events   []watchEvent `json:"events"`
	} `json:"result"`
	Error *rpcError `json:"error"`
}

// waitDelete blocks until key is deleted at a revision after rev, ctx
// ends, or the watch fails (connection lost, no leader for a while: the
// server ends a watch that requires one), or another request found the
// watched member unreachable and moved on (a partitioned member may keep
// the stream open and silent). A key already gone is reported at once,
// from the history the watch replays.
func (c *client) waitDelete(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream
	moved := c.movedCh()
	go func() {
		select {
		case <-moved:
			cancel()
		case <-wctx.Done():
		}
	}()
	body, err := c.post(wctx, "/v3/watch", map[string]any{"create_request": map[string]any{
		"key": []byte(key), "start_revision": fmt.Sprint(rev + 1)}})
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(bufio.NewReader(body))
	for {
		var wr watchResponse
		if err := dec.Decode(&wr); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() != nil {
				return fmt.Errorf("watch %s: endpoint changed", key)
			}
			ep, i := c.endpoint()
			c.failover(i)
			return &transportError{ep, fmt.Errorf("watch %s: %w", key, err)}
		}
		if wr.Error != nil {
			return wr.Error
		}
		if wr.Result == nil {
			continue
		}
		if wr.Result.Canceled {
			return fmt.Errorf("watch %s cancelled by etcd: %s", key, wr.Result.Reason)
		}
		for _, e := range wr.Result.Events {
			if e.Type == "DELETE" {
				return nil
			}
		}
	}
}
