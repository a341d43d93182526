package etcdlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// Backend is the etcd lock backend.
type Backend struct {
	cfg Config
	c   *client
}

var _ lock.Backend = (*Backend)(nil)

// Open reads the configuration from env; nothing is dialled until the
// first request.
func Open(env *applet.Env) (*Backend, error) {
	cfg, err := ConfigFromEnv(env)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// New returns a backend for cfg.
func New(cfg Config) (*Backend, error) {
	return &Backend{cfg: cfg, c: newClient(cfg)}, nil
}

// Close closes idle connections.
func (b *Backend) Close() error {
	b.c.close()
	return nil
}

// pfx is the mutex prefix of a domain; keys under it are PREFIX<domain>/<lease>.
func (b *Backend) pfx(domain string) (string, error) {
	d, err := names.Domain(domain)
	if err != nil {
		return "", err
	}
	return b.cfg.Prefix + d, nil
}

// wrap names the operation and the key in an error, as every ccci error does.
func (b *Backend) wrap(op, key string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v (CCCI_ETCD_TIMEOUT) from %s: is a majority of the cluster up?", b.cfg.Timeout, strings.Join(b.cfg.Endpoints, ","))
	}
	return fmt.Errorf("etcd %s %s: %w", op, key, err)
}

// retryNoLeader runs op, again while the cluster is between leaders or a
// member does not answer (the next attempt goes to the next endpoint),
// until CCCI_ETCD_TIMEOUT: an election (a member died) takes a second or
// two and must not fail a run; a lost quorum must. Each attempt gets a third
// of the timeout, since a request sent to a member that still follows a dead
// leader is never answered. Every op given here is idempotent for its
// session (the mutex key is the lease's own; a lease granted twice expires
// unused).
func (b *Backend) retryNoLeader(ctx context.Context, op func(context.Context) error) error {
	end, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	for {
		actx, c := context.WithTimeout(end, b.cfg.Timeout/3)
		err := op(actx)
		attemptTimedOut := actx.Err() != nil
		c()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case end.Err() != nil:
			if errors.Is(err, errNoLeader) {
				return fmt.Errorf("%w for %v (the cluster has lost its quorum?)", err, b.cfg.Timeout)
			}
			return context.DeadlineExceeded
		case !attemptTimedOut && !retryable(err):
			return err
		}
		t := time.NewTimer(retryEvery)
		select {
		case <-end.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// Probe reports whether domain's lock is held, and by whom; read-only.
func (b *Backend) Probe(ctx context.Context, domain string) (bool, *lock.Holder, error) {
	pfx, err := b.pfx(domain)
	if err != nil {
		return false, nil, err
	}
	h, err := b.holder(ctx, pfx)
	return h != nil, h, err
}

// holder reads the record of the oldest key under pfx: the holder (the
// others are waiters). nil when there is none.
func (b *Backend) holder(ctx context.Context, pfx string) (*lock.Holder, error) {
	var resp *rangeResponse
	err := b.retryNoLeader(ctx, func(ctx context.Context) (err error) {
		resp, err = b.c.rangePrefix(ctx, pfx+"/", firstCreate())
		return err
	})
	if err != nil {
		return nil, b.wrap("get", pfx+"/", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	kv := resp.Kvs[0]
	h := decode(kv.Value)
	h.Token = uint64(kv.CreateRevision)
	return &h, nil
}

// Status lists every held lock under the prefix, with its holder.
func (b *Backend) Status(ctx context.Context) ([]lock.Entry, error) {
	var resp *rangeResponse
	err := b.retryNoLeader(ctx, func(ctx context.Context) (err error) {
		resp, err = b.c.rangePrefix(ctx, b.cfg.Prefix, rangeRequest{SortOrder: "ASCEND", SortTarget: "KEY"})
		return err
	})
	if err != nil {
		return nil, b.wrap("get", b.cfg.Prefix, err)
	}
	var out []lock.Entry
	idx := map[string]int{}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), b.cfg.Prefix)
		domain, _, ok := strings.Cut(rest, "/")
		if !ok {
			continue // not a mutex key of ours
		}
		h := decode(kv.Value)
		h.Token = uint64(kv.CreateRevision)
		i, seen := idx[domain]
		if !seen {
			idx[domain] = len(out)
			out = append(out, lock.Entry{Domain: domain, Held: true, Holder: &h})
			continue
		}
		// The oldest key holds the lock; younger ones wait.
		if h.Token < out[i].Holder.Token {
			out[i].Holder = &h
		}
	}
	return out, nil
}

func encode(h lock.Holder) []byte {
	b, _ := json.Marshal(h) // a Holder always marshals
	return b
}

// decode reads a holder record; an empty or foreign value (a holder that
// has not written its record yet, an etcdctl lock) gives an empty record.
func decode(v []byte) lock.Holder {
	var h lock.Holder
	_ = json.Unmarshal(v, &h)
	return h
}
