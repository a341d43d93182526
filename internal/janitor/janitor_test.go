package janitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/flock"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// fakeSwarm is an inventory that Teardown empties; it records, for each
// teardown, whether the app's lock was held at that moment.
type fakeSwarm struct {
	t       testing.TB
	inv     swarm.Inventory
	locks   lock.Backend
	torn    []string
	lockedO bool // every teardown ran under the app lock
}

func (f *fakeSwarm) Inventory(context.Context) (swarm.Inventory, error) { return f.inv, nil }

func (f *fakeSwarm) Teardown(ctx context.Context, d string, envs []string) (swarm.Report, error) {
	held, _, err := f.locks.Probe(ctx, d)
	if err != nil || !held {
		f.lockedO = false
	}
	f.torn = append(f.torn, d)
	st := f.inv[names.StackName(d)]
	delete(f.inv, names.StackName(d))
	for _, e := range envs {
		os.Remove(e)
	}
	var rep swarm.Report
	if st != nil {
		rep.Removed = st.All()
	}
	return rep, nil
}

// ours is the lock namespace of every bed's janitor.
const ours = "file:test:/lock"

// stack is a stack as the inventory shows it; labelled by ccci (runs
// given) under our namespace.
func stack(domain string, runs ...string) *swarm.Stack {
	s := &swarm.Stack{Name: names.StackName(domain), Runs: runs}
	if len(runs) > 0 {
		s.Domain = domain
		s.LockNamespaces = []string{ours}
	}
	s.Services = []swarm.Resource{{Kind: "service", ID: "s-" + domain, Name: s.Name + "_app"}}
	return s
}

type bed struct {
	cfg  Config
	sw   *fakeSwarm
	lock string
	abra string
}

func newBed(t testing.TB, stacks ...*swarm.Stack) *bed {
	dir := t.TempDir()
	b := &bed{lock: filepath.Join(dir, "lock"), abra: filepath.Join(dir, "abra")}
	os.MkdirAll(b.lock, 0o755)
	os.MkdirAll(filepath.Join(b.abra, "servers", "default"), 0o755)
	locks := flock.New(b.lock)
	inv := swarm.Inventory{}
	for _, s := range stacks {
		inv[s.Name] = s
	}
	b.sw = &fakeSwarm{t: t, inv: inv, locks: locks, lockedO: true}
	b.cfg = Config{Locks: locks, Namespace: ours, AbraDir: b.abra, Swarm: b.sw,
		Match: regexp.MustCompile(DefaultMatch), Keep: regexp.MustCompile(DefaultKeep),
		Stale: time.Hour, Self: os.Getpid(), Holder: lock.Holder{Run: "ccci-janitor"}}
	return b
}

func (b *bed) touch(t *testing.T, paths ...string) {
	for _, p := range paths {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (b *bed) lockfile(d string) string { return b.cfg.Locks.Where(d) }
func (b *bed) envfile(d string) string {
	return filepath.Join(b.abra, "servers", "default", d+".env")
}

func lines(r *Report) []string {
	var l []string
	for _, it := range r.Items {
		l = append(l, Line(it))
	}
	return l
}

func TestCandidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stacks []*swarm.Stack
		locks  []string // lockfiles
		envs   []string // env files
		reaped []string // domains torn down
		gone   []string // lockfiles unlinked
		kept   []string // lockfiles that must still be there
		absent []string // lockfiles that must never appear
	}{
		{name: "labelled stack, any domain", stacks: []*swarm.Stack{stack("shop.example.org", "9")},
			reaped: []string{"shop.example.org"}, absent: []string{"shop.example.org"}},
		{name: "matched unlabelled stack with our lockfile", stacks: []*swarm.Stack{stack("app-1.ci.example")},
			locks:  []string{"app-1.ci.example"},
			reaped: []string{"app-1.ci.example"}, gone: []string{"app-1.ci.example"}},
		{name: "matched unlabelled stack, no lockfile: foreign", stacks: []*swarm.Stack{stack("app-11.ci.example")},
			absent: []string{"app-11.ci.example"}},
		{name: "unmatched unlabelled stack untouched", stacks: []*swarm.Stack{stack("web.example.org")},
			absent: []string{"web.example.org"}},
		{name: "warm never, even labelled", stacks: []*swarm.Stack{stack("warm-app-1.ci.example", "3")},
			locks: []string{"warm-app-2.ci.example"}, envs: []string{"warm-app-1.ci.example"},
			kept: []string{"warm-app-2.ci.example"}, absent: []string{"warm-app-1.ci.example"}},
		{name: "lockfile with no app unlinked", locks: []string{"app-2.ci.example"},
			gone: []string{"app-2.ci.example"}},
		{name: "lockfile of an unmatched domain kept", locks: []string{"example.org"},
			kept: []string{"example.org"}},
		{name: "env file and our lockfile", envs: []string{"app-3.ci.example"}, locks: []string{"app-3.ci.example"},
			reaped: []string{"app-3.ci.example"}, gone: []string{"app-3.ci.example"}},
		{name: "env file alone: foreign", envs: []string{"app-12.ci.example"},
			absent: []string{"app-12.ci.example"}},
		{name: "stack named back through its env file", stacks: []*swarm.Stack{stack("app-4.ci.example")},
			envs: []string{"app-4.ci.example"}, locks: []string{"app-4.ci.example"},
			reaped: []string{"app-4.ci.example"}, gone: []string{"app-4.ci.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t, tc.stacks...)
			for _, d := range tc.locks {
				b.touch(t, b.lockfile(d))
			}
			for _, d := range tc.envs {
				b.touch(t, b.envfile(d))
			}
			rep := Run(context.Background(), b.cfg)
			sort.Strings(b.sw.torn)
			if strings.Join(b.sw.torn, " ") != strings.Join(tc.reaped, " ") {
				t.Errorf("torn down %v, want %v\n%s", b.sw.torn, tc.reaped, strings.Join(lines(rep), "\n"))
			}
			if !b.sw.lockedO {
				t.Error("a teardown ran without the app lock held")
			}
			for _, d := range append(tc.gone, tc.absent...) {
				if _, err := os.Lstat(b.lockfile(d)); err == nil {
					t.Errorf("lockfile of %s exists", d)
				}
			}
			for _, d := range tc.kept {
				if _, err := os.Lstat(b.lockfile(d)); err != nil {
					t.Errorf("lockfile of %s: %v", d, err)
				}
			}
			if n := rep.Count(Failed) + rep.Count(Skipped); n != 0 {
				t.Errorf("%d errors/skips:\n%s", n, strings.Join(lines(rep), "\n"))
			}
		})
	}
}

func TestHeldIsLive(t *testing.T) {
	d := "app-5.ci.example"
	b := newBed(t, stack(d, "5"))
	l, err := b.cfg.Locks.Acquire(context.Background(), lock.Request{Domain: d,
		Holder: lock.Holder{Run: "5", PID: os.Getpid(), Since: time.Now().Add(-3 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for _, look := range []bool{false, true} {
		b.cfg.Look = look
		rep := Run(context.Background(), b.cfg)
		if len(b.sw.torn) != 0 {
			t.Fatalf("look=%v: reaped a held app", look)
		}
		got := strings.Join(lines(rep), "\n")
		if rep.Count(Live) != 1 || rep.Count(Warned) != 1 || rep.Count(Leak) != 0 ||
			!strings.Contains(got, "warned lock "+d+" (run 5): held for 3h0m0s, past --stale 1h0m0s, by run 5") {
			t.Errorf("look=%v: got\n%s", look, got)
		}
	}
}

func TestSkips(t *testing.T) {
	b := newBed(t)
	os.Mkdir(b.lockfile("app-6.ci.example"), 0o755)
	os.Symlink("/etc/passwd", b.lockfile("app-7.ci.example"))
	rep := Run(context.Background(), b.cfg)
	if rep.Count(Skipped) != 2 || rep.Count(Failed) != 0 {
		t.Errorf("got\n%s", strings.Join(lines(rep), "\n"))
	}
	b.cfg.Locks = flock.New(filepath.Join(b.lock, "missing"))
	rep = Run(context.Background(), b.cfg)
	if rep.Count(Skipped) != 1 || !strings.Contains(Line(rep.Items[0]), "skipped lockdir") {
		t.Errorf("missing lock dir: got\n%s", strings.Join(lines(rep), "\n"))
	}
}

func TestCheckChangesNothing(t *testing.T) {
	d := "app-8.ci.example"
	b := newBed(t, stack(d, "8"))
	b.touch(t, b.envfile(d), b.lockfile("app-9.ci.example"))
	b.cfg.Look = true
	rep := Run(context.Background(), b.cfg)
	if len(b.sw.torn) != 0 {
		t.Fatal("check mode tore down")
	}
	want := []string{"leak service app-8_ci_example_app (app app-8.ci.example, run 8)",
		"leak envfile " + b.envfile(d) + " (app app-8.ci.example, run 8)"}
	if got := lines(rep); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{b.envfile(d), b.lockfile("app-9.ci.example")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(b.lockfile(d)); err == nil {
		t.Error("check mode created a lockfile")
	}
}

func TestMetricsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ccci.prom")
	r := &Report{Items: []Item{{Action: Reaped, Kind: "app"}, {Action: Reaped, Kind: "app"}}, Took: time.Second}
	if err := r.WriteMetrics(p, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, w := range []string{`ccci_janitor_items{action="reaped",kind="app"} 2`, "ccci_janitor_leaks 2", "ccci_janitor_last_run_timestamp_seconds 100"} {
		if !strings.Contains(string(b), w+"\n") {
			t.Errorf("metrics lack %q:\n%s", w, b)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("temp files left: %v", es)
	}
}

// BenchmarkPass is one pass over 10,000 idle lockfiles of run domains
// (no app): -bench Pass/check probes them, Pass/reap unlinks them.
func BenchmarkPass(b *testing.B) {
	for _, look := range []bool{true, false} {
		b.Run(map[bool]string{true: "check", false: "reap"}[look], func(b *testing.B) {
			bd := newBed(b)
			bd.cfg.Swarm, bd.cfg.Look = nil, look
			for b.Loop() {
				b.StopTimer()
				os.RemoveAll(bd.lock)
				os.Mkdir(bd.lock, 0o755)
				for i := range 10000 {
					os.WriteFile(bd.lockfile("app-"+strconv.Itoa(i)+".ci.example"), nil, 0o644)
				}
				b.StartTimer()
				Run(context.Background(), bd.cfg)
			}
		})
	}
}

// vanishing removes a lockfile just before the pass takes its lock, as a
// lockfile unlinked between the listing and the reap.
type vanishing struct {
	lock.Backend
	path string
}

func (v vanishing) Acquire(ctx context.Context, r lock.Request) (lock.Lock, error) {
	os.Remove(v.path)
	return v.Backend.Acquire(ctx, r)
}

// TestLockfileGoneBeforeReap: a bare lockfile gone by the time it is
// locked is nothing to reap: no item, no error, and no lockfile created.
func TestLockfileGoneBeforeReap(t *testing.T) {
	b := newBed(t)
	p := b.lockfile("app-10.ci.example")
	b.touch(t, p)
	b.cfg.Locks = vanishing{b.cfg.Locks, p}
	rep := Run(context.Background(), b.cfg)
	if len(rep.Items) != 0 {
		t.Errorf("want no items, got\n%s", strings.Join(lines(rep), "\n"))
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the reap created %s again (%v)", p, err)
	}
}

// TestForeignApps: an app of another lock namespace — labelled with it
// (even beside ours), or unlabelled with no lock of ours — is reported
// foreign, in both modes, and never probed, reaped nor counted as a leak;
// a real leak of ours beside it still is one, and is reaped.
func TestForeignApps(t *testing.T) {
	other := stack("app-13.ci.example", "13")
	other.LockNamespaces = []string{"file:elsewhere:/run/lock"}
	mixed := stack("app-14.ci.example", "14")
	mixed.LockNamespaces = append(mixed.LockNamespaces, "etcd:1f:/ccci/lock/")
	old := stack("app-15.ci.example") // unlabelled, no lockfile here
	mine := stack("app-16.ci.example", "16")
	b := newBed(t, other, mixed, old, mine)
	b.touch(t, b.envfile("app-17.ci.example")) // an env file alone, no lockfile
	want := []string{
		"foreign app app-13.ci.example (run 13): deployed under lock namespace file:elsewhere:/run/lock, not this janitor's (" + ours + "); not touched",
		"foreign app app-14.ci.example (run 14): deployed under lock namespace etcd:1f:/ccci/lock/, not this janitor's (" + ours + "); not touched",
		"foreign app app-15.ci.example: no lock namespace label, and no lock at " + b.lockfile("app-15.ci.example") + "; not touched",
		"LEAK",
		"foreign app app-17.ci.example: no lock namespace label, and no lock at " + b.lockfile("app-17.ci.example") + "; not touched",
	}
	for _, look := range []bool{true, false} {
		b.cfg.Look = look
		rep := Run(context.Background(), b.cfg)
		w := append([]string(nil), want...)
		w[3] = "reaped app app-16.ci.example (run 16): 1 resources, 0 env files"
		if look {
			w[3] = "leak service app-16_ci_example_app (app app-16.ci.example, run 16)"
		}
		if got := lines(rep); strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("look=%v: got\n%s\nwant\n%s", look, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
		if rep.Count(Foreign) != 4 || rep.Leaks() != map[bool]int{true: 1, false: 0}[look] {
			t.Errorf("look=%v: %s", look, rep.Summary())
		}
		if !strings.Contains(rep.Summary(), "live 0, foreign 4, warned 0") {
			t.Errorf("look=%v: summary %q", look, rep.Summary())
		}
	}
	if strings.Join(b.sw.torn, " ") != "app-16.ci.example" {
		t.Errorf("torn down %v, want only app-16.ci.example", b.sw.torn)
	}
	for _, d := range []string{"app-13.ci.example", "app-14.ci.example", "app-15.ci.example", "app-17.ci.example"} {
		if _, err := os.Lstat(b.lockfile(d)); err == nil {
			t.Errorf("a lockfile was created for foreign %s", d)
		}
	}
	if _, err := os.Stat(b.envfile("app-17.ci.example")); err != nil {
		t.Errorf("a foreign app's env file: %v", err)
	}
}

// TestAdopt: an adopted namespace's apps are judged as ours (reaped once
// their lock here is free); the others stay foreign; AdoptAll takes
// every app, unlabelled ones included.
func TestAdopt(t *testing.T) {
	other := stack("app-18.ci.example", "18")
	other.LockNamespaces = []string{"file:old-name:/run/lock"}
	third := stack("app-19.ci.example", "19")
	third.LockNamespaces = []string{"etcd:1f:/ccci/lock/"}
	b := newBed(t, other, third, stack("app-20.ci.example"))
	b.cfg.Adopt = []string{"file:old-name:/run/lock"}
	rep := Run(context.Background(), b.cfg)
	if strings.Join(b.sw.torn, " ") != "app-18.ci.example" || rep.Count(Foreign) != 2 {
		t.Errorf("adopt one: torn down %v\n%s", b.sw.torn, strings.Join(lines(rep), "\n"))
	}
	b.cfg.Adopt = []string{AdoptAll}
	rep = Run(context.Background(), b.cfg)
	if strings.Join(b.sw.torn, " ") != "app-18.ci.example app-19.ci.example app-20.ci.example" || rep.Count(Foreign) != 0 {
		t.Errorf("adopt all: torn down %v\n%s", b.sw.torn, strings.Join(lines(rep), "\n"))
	}
}
