package etcdlock

import (
	"regexp"
	"strings"
	"testing"
)

// TestNamespace: the namespace names the cluster by its id and the
// prefix, so endpoints spelled differently (another member first) give
// the same one and another prefix another; List names the domains with a
// held lock, once each, and no free one.
func TestNamespace(t *testing.T) {
	c := sharedCluster(t)
	b := backend(t, c)
	ns, err := b.Namespace(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^etcd:[0-9a-f]+:/test/` + t.Name() + `/$`).MatchString(ns) {
		t.Errorf("namespace %q", ns)
	}
	eps := strings.Split(c.endpoints, ",")
	for i, j := 0, len(eps)-1; i < j; i, j = i+1, j-1 {
		eps[i], eps[j] = eps[j], eps[i]
	}
	rev := backend(t, &cluster{endpoints: strings.Join(eps, ",")})
	if got, err := rev.Namespace(ctx(t)); err != nil || got != ns {
		t.Errorf("endpoints reversed: %q, %v; want %q", got, err, ns)
	}
	other := backend(t, c, "CCCI_ETCD_PREFIX=/test/"+t.Name()+"-other/")
	if got, err := other.Namespace(ctx(t)); err != nil || got == ns {
		t.Errorf("another prefix: %q, %v; want other than %q", got, err, ns)
	}

	l, err := b.Acquire(ctx(t), req("held.example", "1"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	free, err := b.Acquire(ctx(t), req("free.example", "2"))
	if err != nil {
		t.Fatal(err)
	}
	free.Release()
	ls, err := b.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Domain != "held.example" || ls[0].Err != nil || ls[0].Where != b.Where("held.example") {
		t.Errorf("List: %+v", ls)
	}
}
