package etcdlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// Backend is the etcd lock backend.
type Backend struct {
	cfg Config
	cli *clientv3.Client
}

var _ lock.Backend = (*Backend)(nil)

// Open reads the configuration from env and connects (lazily: the first
// request dials).
func Open(env *applet.Env) (*Backend, error) {
	cfg, err := ConfigFromEnv(env)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// New returns a backend for cfg.
func New(cfg Config) (*Backend, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.Timeout,
		DialKeepAliveTime:    cfg.KeepAlive,
		DialKeepAliveTimeout: cfg.KeepAlive,
		// Without a logger the client prints JSON warnings to stderr,
		// which is the command's stderr too.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	return &Backend{cfg: cfg, cli: cli}, nil
}

// Close closes the connections.
func (b *Backend) Close() error { return b.cli.Close() }

// pfx is the mutex prefix of a domain; keys under it are PREFIX<domain>/<lease>.
func (b *Backend) pfx(domain string) (string, error) {
	d, err := names.Domain(domain)
	if err != nil {
		return "", err
	}
	return b.cfg.Prefix + d, nil
}

// reqCtx bounds one request outside the wait and makes it fail at once
// when the member has no leader (quorum lost), instead of hanging.
func (b *Backend) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	return clientv3.WithRequireLeader(ctx), cancel
}

// wrap names the operation and the key in an error, as every ccci error does.
func (b *Backend) wrap(op, key string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v (CCCI_ETCD_TIMEOUT) from %s: is a majority of the cluster up?", b.cfg.Timeout, strings.Join(b.cfg.Endpoints, ","))
	}
	return fmt.Errorf("etcd %s %s: %w", op, key, err)
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
	rctx, cancel := b.reqCtx(ctx)
	defer cancel()
	resp, err := b.cli.Get(rctx, pfx+"/", clientv3.WithFirstCreate()...)
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
	rctx, cancel := b.reqCtx(ctx)
	defer cancel()
	resp, err := b.cli.Get(rctx, b.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
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

func encode(h lock.Holder) string {
	b, _ := json.Marshal(h) // a Holder always marshals
	return string(b)
}

// decode reads a holder record; an empty or foreign value (a holder that
// has not written its record yet, an etcdctl lock) gives an empty record.
func decode(v []byte) lock.Holder {
	var h lock.Holder
	_ = json.Unmarshal(v, &h)
	return h
}
