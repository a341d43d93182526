// Package etcdlock is the app lock kept in etcd, for CI runners on several
// hosts: lock.Backend "etcd", chosen with CCCI_LOCK_BACKEND=etcd and
// CCCI_ETCD_ENDPOINTS.
//
// Guarantees:
//   - one holder per domain cluster-wide: each acquisition queues a key of
//     its own lease under PREFIX<domain>/, and the oldest key (by create
//     revision) holds the lock, as etcd's concurrency.Mutex does;
//     TestSerialized, tests/testdata/etcd/serialize.txtar;
//   - no polling: a waiter watches the deletion of the key ahead of it;
//     TestHandoffWakesWaiter;
//   - the fencing token is the lock key's create revision: it grows with
//     every acquisition of a domain; TestTokenGrows;
//   - a holder that dies, is partitioned or paused past the lease TTL loses
//     the lock: Lost() closes CCCI_ETCD_MARGIN before the lease deadline
//     measured from when the last good renewal was sent (etcd's own expiry
//     is never earlier), and every later write of the holder is guarded by
//     the token, so a stale holder never deletes or overwrites a newer
//     holder's key; TestLostLease;
//   - every request outside the wait requires a leader and is bounded by
//     CCCI_ETCD_TIMEOUT: a cluster without quorum is an error in about a
//     second or two, never a hang, and never a lock; TestNoQuorum.
//
// The holder record (lock.Holder as JSON) is the value of each key, put
// with the key as it is queued, in the txn that also reads the oldest key
// (the holder, whom a waiter names); a waiter rewrites it once it holds,
// guarded by the token, while its command starts (TestRecordAfterWait).
// The token is the create revision of the key, so a handoff costs no write
// between the waiter's wake-up and its command.
//
// It speaks etcd's v3 HTTP/JSON gateway over internal/httpc (client.go):
// the gRPC client would link gRPC, protobuf and zap into every call of
// every applet, net/http and crypto/tls another 1.8 ms of start
// (tests/deps_test.go keeps them all out). Endpoints are plain http.
package etcdlock
