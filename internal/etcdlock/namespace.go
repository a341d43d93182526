package etcdlock

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// keysRequest is a range request for the keys alone.
type keysRequest struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end"`
	KeysOnly bool   `json:"keys_only"`
}

// clusterResponse is any answer's header, for the cluster's id.
type clusterResponse struct {
	Header struct {
		ClusterID uint64 `json:"cluster_id,string"`
	} `json:"header"`
	Kvs []keyValue `json:"kvs"`
}

// Namespace implements lock.Backend: "etcd:<cluster id>:<prefix>", the
// cluster's id (as etcdctl prints it, in hex) from the header of a read,
// so every member's endpoint, however spelled, names the same namespace;
// and CCCI_ETCD_PREFIX, as two prefixes on one cluster are two sets of
// locks.
func (b *Backend) Namespace(ctx context.Context) (string, error) {
	var resp clusterResponse
	err := b.retryNoLeader(ctx, func(ctx context.Context) error {
		return b.c.call(ctx, "/v3/kv/range", keysRequest{Key: []byte(b.cfg.Prefix), KeysOnly: true}, &resp)
	})
	if err != nil {
		return "", b.wrap("get", b.cfg.Prefix, err)
	}
	if resp.Header.ClusterID == 0 {
		return "", fmt.Errorf("etcd: no cluster id in the answer from %s", strings.Join(b.cfg.Endpoints, ","))
	}
	return fmt.Sprintf("etcd:%x:%s", resp.Header.ClusterID, b.cfg.Prefix), nil
}

// List implements lock.Backend: the domains with a key under the prefix
// (a lock held or waited for; a free lock has none), keys only.
func (b *Backend) List(ctx context.Context) ([]lock.Listed, error) {
	var resp clusterResponse
	err := b.retryNoLeader(ctx, func(ctx context.Context) error {
		return b.c.call(ctx, "/v3/kv/range", keysRequest{Key: []byte(b.cfg.Prefix), RangeEnd: prefixEnd(b.cfg.Prefix), KeysOnly: true}, &resp)
	})
	if err != nil {
		return nil, b.wrap("get", b.cfg.Prefix, err)
	}
	seen := map[string]bool{}
	var out []lock.Listed
	for _, kv := range resp.Kvs {
		raw, _, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), b.cfg.Prefix), "/")
		if !ok || seen[raw] {
			continue // not a mutex key of ours, or a waiter's
		}
		seen[raw] = true
		l := lock.Listed{Where: b.cfg.Prefix + raw + "/"}
		if d, err := names.Domain(raw); err != nil {
			l.Err = err
		} else {
			l.Domain = d
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Where < out[j].Where })
	return out, nil
}

// Where implements lock.Backend: the domain's mutex prefix.
func (b *Backend) Where(domain string) string { return b.cfg.Prefix + domain + "/" }
