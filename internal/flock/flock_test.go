package flock

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// deadline bounds every wait on a condition in these tests.
const deadline = 10 * time.Second

func req(domain string) lock.Request {
	return lock.Request{Domain: domain, Holder: lock.Holder{Run: "t", PID: os.Getpid()}}
}

func mustAcquire(t *testing.T, b *Backend, r lock.Request) lock.Lock {
	t.Helper()
	l, err := b.Acquire(context.Background(), r)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", r.Domain, err)
	}
	return l
}

func TestTokenIncreases(t *testing.T) {
	b := New(t.TempDir())
	var prev uint64
	for i := 0; i < 3; i++ {
		l := mustAcquire(t, b, req("a.org"))
		tok := l.Token()
		if tok <= prev {
			t.Errorf("token %d after %d: want a larger one", tok, prev)
		}
		_, h, err := b.Probe(context.Background(), "a.org")
		if err != nil || h == nil || h.Token != tok || h.Run != "t" || h.PID != os.Getpid() {
			t.Errorf("record = %+v, %v; want token %d, run t, our pid", h, err, tok)
		}
		l.Release()
		prev = tok
	}
	// A garbled record loses the previous token; the clock floor still
	// gives a larger one rather than failing the lock.
	os.WriteFile(b.Path("a.org"), []byte("\x00garbage"), 0o644)
	l := mustAcquire(t, b, req("a.org"))
	defer l.Release()
	if l.Token() <= prev {
		t.Errorf("token after garbage = %d, want > %d", l.Token(), prev)
	}
}

// TestTokenSurvivesUnlink: a janitor unlinks the lockfile under the lock
// (so the record and its token are gone); the next acquisition, on a fresh
// file, still gets a larger token.
func TestTokenSurvivesUnlink(t *testing.T) {
	b := New(t.TempDir())
	var prev uint64
	for i := 0; i < 3; i++ {
		l := mustAcquire(t, b, req("a.org"))
		if l.Token() <= prev {
			t.Fatalf("round %d: token %d after %d", i, l.Token(), prev)
		}
		prev = l.Token()
		if err := l.Unlink(); err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
}

func TestNextToken(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	floor := uint64(now.UnixMicro())
	for _, tc := range []struct {
		prev uint64
		now  time.Time
		want uint64
	}{
		{0, now, floor},              // fresh or unlinked file
		{5, now, floor},              // an old small-counter record
		{floor, now, floor + 1},      // two acquisitions in one microsecond
		{floor + 9, now, floor + 10}, // the clock stepped back a little
		{0, time.Unix(-5, 0), 1},     // a clock before the epoch
		{1<<64 - 2, now, 1<<64 - 1},  // the counter at its end
		{floor, now.Add(time.Second), floor + 1_000_000},
	} {
		if got := nextToken(tc.prev, tc.now); got != tc.want {
			t.Errorf("nextToken(%d, %v) = %d, want %d", tc.prev, tc.now, got, tc.want)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(path, outside string) error
		want  string
	}{
		{"symlink", func(p, o string) error { return os.Symlink(o, p) }, "symlink"},
		{"dangling symlink", func(p, o string) error { return os.Symlink(o+".none", p) }, "symlink"},
		{"directory", func(p, o string) error { return os.Mkdir(p, 0o755) }, "is a directory"},
		{"fifo", func(p, o string) error { return unix.Mkfifo(p, 0o644) }, "not a regular file"},
		{"hard link", func(p, o string) error { return os.Link(o, p) }, "hard links"},
		{"another user's", func(p, o string) error {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return err
			}
			return os.Chown(p, 65534, 65534)
		}, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "another user's" && os.Geteuid() != 0 {
				t.Fatal("chown to another user needs root: run the suite as root (make test)")
			}
			dir := t.TempDir()
			outside := filepath.Join(dir, "precious")
			os.WriteFile(outside, []byte("keep me\n"), 0o644)
			b := New(filepath.Join(dir, "lock"))
			os.Mkdir(filepath.Join(dir, "lock"), 0o755)
			if err := tc.plant(b.Path("a.org"), outside); err != nil {
				t.Fatal(err)
			}
			_, err := b.Acquire(context.Background(), req("a.org"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), b.Path("a.org")) {
				t.Fatalf("Acquire = %v; want an error naming the path and %q", err, tc.want)
			}
			if got, _ := os.ReadFile(outside); string(got) != "keep me\n" {
				t.Errorf("target changed: %q", got)
			}
			if _, err := os.Lstat(outside + ".none"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dangling symlink's target was created")
			}
			if _, _, err := b.Probe(context.Background(), "a.org"); err == nil && tc.name != "dangling symlink" {
				t.Errorf("Probe accepted a planted %s", tc.name)
			}
			// A probe opens read-only, which a directory allows: the fstat
			// check refuses it instead.
			want := tc.want
			if tc.name == "directory" {
				want = "not a regular file"
			}
			p := req("a.org")
			p.Probe, p.NonBlock = true, true
			if _, err := b.Acquire(context.Background(), p); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), b.Path("a.org")) {
				t.Errorf("probe Acquire = %v; want an error naming the path and %q", err, want)
			}
		})
	}
}

// A lock dir where another user could move a held lockfile aside (writable
// by others without the sticky bit, or owned by neither root nor us) is
// refused before any lockfile is opened; /run/lock's 1777 is fine.
func TestLockDirRefused(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		uid  int
		want string
	}{
		{0o777, -1, "writable by others without the sticky bit"},
		{0o775, -1, "writable by others without the sticky bit"},
		{0o1777, -1, ""},
		{0o755, -1, ""},
		{0o755, 65534, "owned by uid 65534"},
	} {
		dir := filepath.Join(t.TempDir(), "lock")
		os.Mkdir(dir, 0o755)
		// unix.Chmod: os.FileMode keeps the sticky bit elsewhere.
		if err := unix.Chmod(dir, uint32(tc.mode)); err != nil {
			t.Fatal(err)
		}
		if tc.uid >= 0 {
			if os.Geteuid() != 0 {
				continue // chown to another user needs root
			}
			if err := os.Chown(dir, tc.uid, tc.uid); err != nil {
				t.Fatal(err)
			}
		}
		b := New(dir)
		l, err := b.Acquire(context.Background(), req("a.org"))
		_, serr := b.Status(context.Background())
		if tc.want == "" {
			if err != nil || serr != nil {
				t.Errorf("mode %o: Acquire %v, Status %v; want both fine", tc.mode, err, serr)
			} else {
				l.Release()
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("mode %o uid %d: Acquire = %v; want refused, naming the dir and %q", tc.mode, tc.uid, err, tc.want)
		}
		if serr == nil {
			t.Errorf("mode %o uid %d: Status accepted the lock dir", tc.mode, tc.uid)
		}
		if _, err := os.Lstat(b.Path("a.org")); err == nil {
			t.Errorf("mode %o uid %d: a lockfile was created in a refused dir", tc.mode, tc.uid)
		}
	}
}

// A token at 2^64-1 is never followed by a smaller one: Acquire refuses
// with ErrTokenExhausted, releases the lock and leaves the record.
func TestTokenNeverWraps(t *testing.T) {
	b := New(t.TempDir())
	rec := lock.EncodeRecord(lock.Holder{Run: "old", PID: 1, Token: math.MaxUint64})
	if err := os.WriteFile(b.Path("a.org"), rec, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := b.Acquire(context.Background(), req("a.org"))
	if !errors.Is(err, lock.ErrTokenExhausted) {
		t.Fatalf("Acquire = %v; want ErrTokenExhausted", err)
	}
	if got, _ := os.ReadFile(b.Path("a.org")); string(got) != string(rec) {
		t.Errorf("record changed to %q", got)
	}
	if held, _, err := b.Probe(context.Background(), "a.org"); held || err != nil {
		t.Errorf("after the refusal: held %v, %v; want released", held, err)
	}
}

func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	// A missing lock dir is created...
	b := New(filepath.Join(dir, "lock"))
	mustAcquire(t, b, req("a.org")).Release()
	if fi, err := os.Stat(filepath.Join(dir, "lock")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("lock dir: %v %v; want created 0700", fi, err)
	}
	// ...but never its parents.
	b = New(filepath.Join(dir, "no", "lock"))
	_, err := b.Acquire(context.Background(), req("a.org"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Acquire with missing parent = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parent of the lock dir was created")
	}
	// Status of a missing dir is empty, not an error.
	if es, err := b.Status(context.Background()); err != nil || len(es) != 0 {
		t.Errorf("Status = %v, %v", es, err)
	}
}

func TestNonBlockAndTimeout(t *testing.T) {
	b := New(t.TempDir())
	l := mustAcquire(t, b, req("a.org"))
	r := req("a.org")
	r.NonBlock = true
	_, err := b.Acquire(context.Background(), r)
	if !errors.Is(err, lock.ErrWouldBlock) || !strings.Contains(err.Error(), "run t") {
		t.Errorf("NonBlock while held = %v; want ErrWouldBlock naming run t", err)
	}
	r = req("a.org")
	r.Wait = 100 * time.Millisecond
	var events []lock.Event
	r.Notify = func(e lock.Event) { events = append(events, e) }
	start := time.Now()
	_, err = b.Acquire(context.Background(), r)
	if !errors.Is(err, lock.ErrTimeout) || time.Since(start) < r.Wait {
		t.Errorf("Wait while held = %v after %v; want ErrTimeout after >= %v", err, time.Since(start), r.Wait)
	}
	if len(events) != 1 || events[0].Kind != lock.Waiting || events[0].Holder.Run != "t" {
		t.Errorf("events = %+v; want one Waiting naming run t", events)
	}
	// Other domains are independent.
	mustAcquire(t, b, req("b.org")).Release()
	l.Release()
	if err := l.Release(); err == nil {
		t.Error("second Release succeeded")
	}
	// The timed-out wait's goroutine takes and drops the lock on release.
	eventuallyFree(t, b, "a.org")
}

// eventuallyFree waits until a non-blocking acquire of domain succeeds.
func eventuallyFree(t *testing.T, b *Backend, domain string) {
	t.Helper()
	r := req(domain)
	r.NonBlock = true
	end := time.Now().Add(deadline)
	for {
		l, err := b.Acquire(context.Background(), r)
		if err == nil {
			l.Release()
			return
		}
		if time.Now().After(end) {
			t.Fatalf("lock still held: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waiter starts an Acquire of domain in a goroutine and returns once it
// blocks (its Waiting event); the lock it gets arrives on the channel.
func waiter(t *testing.T, b *Backend, domain string) <-chan lock.Lock {
	got := make(chan lock.Lock)
	waiting := make(chan struct{})
	go func() {
		r := req(domain)
		r.Notify = func(e lock.Event) {
			if e.Kind == lock.Waiting {
				close(waiting)
			}
		}
		l, err := b.Acquire(context.Background(), r)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	<-waiting
	return got
}

// A waiter wakes when the holder releases: no polling interval to wait out.
func TestWaiterWakes(t *testing.T) {
	b := New(t.TempDir())
	l := mustAcquire(t, b, req("a.org"))
	got := waiter(t, b, "a.org")
	l.Release()
	select {
	case l2 := <-got:
		if l2.Token() <= l.Token() {
			t.Errorf("waiter's token = %d, want > %d", l2.Token(), l.Token())
		}
		l2.Release()
	case <-time.After(deadline):
		t.Fatal("waiter did not wake after release")
	}
}

func TestAbandonedWaitReleases(t *testing.T) {
	b := New(t.TempDir())
	l := mustAcquire(t, b, req("a.org"))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	r := req("a.org")
	r.Notify = func(e lock.Event) {
		if e.Kind == lock.Waiting {
			cancel()
		}
	}
	go func() { _, err := b.Acquire(ctx, r); errc <- err }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Acquire = %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("cancel did not end the wait")
	}
	// The abandoned goroutine is still blocked in flock; when the holder
	// releases it acquires, and must release at once.
	l.Release()
	eventuallyFree(t, b, "a.org")
}

func TestUnlinkedWhileWaiting(t *testing.T) {
	b := New(t.TempDir())
	l := mustAcquire(t, b, req("a.org"))
	got := waiter(t, b, "a.org")
	// The holder (a janitor) unlinks while holding, then releases: the
	// waiter wakes on the dead inode and must lock a fresh file instead.
	if err := l.Unlink(); err != nil {
		t.Fatal(err)
	}
	l.Release()
	l2 := <-got
	defer l2.Release()
	var a, p unix.Stat_t
	if err := unix.Fstat(l2.(*held).fd, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(b.Path("a.org"), &p); err != nil || a.Dev != p.Dev || a.Ino != p.Ino {
		t.Fatalf("waiter holds an inode the path does not name (%v)", err)
	}
	if l2.Token() <= l.Token() {
		t.Errorf("token on the fresh file = %d, want > %d", l2.Token(), l.Token())
	}
}

func TestProbeAndStatus(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	ctx := context.Background()
	if held, h, err := b.Probe(ctx, "a.org"); held || h != nil || err != nil {
		t.Errorf("Probe of a missing file = %v %v %v", held, h, err)
	}
	if _, err := os.Stat(b.Path("a.org")); !errors.Is(err, os.ErrNotExist) {
		t.Error("Probe created the lockfile")
	}
	l := mustAcquire(t, b, req("a.org"))
	mustAcquire(t, b, req("b.org")).Release()
	os.WriteFile(filepath.Join(dir, "unrelated"), nil, 0o644)
	// A shared holder blocks the probe: it tries an exclusive lock.
	r := req("c.org")
	r.Shared = true
	s1 := mustAcquire(t, b, r)
	s2 := mustAcquire(t, b, r)
	defer s1.Release()
	defer s2.Release()

	es, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		s := e.Domain + "="
		if e.Held {
			s += "held"
		} else {
			s += "free"
		}
		if e.Holder != nil {
			s += "/" + e.Holder.Run
		}
		got = append(got, s)
	}
	if want := "a.org=held/t b.org=free/t c.org=held"; strings.Join(got, " ") != want {
		t.Errorf("Status = %s, want %s", strings.Join(got, " "), want)
	}
	l.Release()
	if held, _, _ := b.Probe(ctx, "a.org"); held {
		t.Error("Probe after release: held")
	}
}

// The lock fd never leaks into children: it is O_CLOEXEC.
func TestCloexec(t *testing.T) {
	b := New(t.TempDir())
	l := mustAcquire(t, b, req("a.org"))
	defer l.Release()
	flags, err := unix.FcntlInt(uintptr(l.(*held).fd), syscall.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd flags = %#x, %v; want FD_CLOEXEC", flags, err)
	}
}

// TestProbeRequest: a Probe acquisition locks (a second one is refused)
// but writes no record and issues no token, and never creates a lockfile
// or the lock dir.
func TestProbeRequest(t *testing.T) {
	b := New(filepath.Join(t.TempDir(), "lock"))
	ctx := context.Background()
	first := mustAcquire(t, b, req("a.org"))
	tok := first.Token()
	first.Release()
	before, _ := os.ReadFile(b.Path("a.org"))

	p := req("a.org")
	p.Probe, p.NonBlock = true, true
	pl := mustAcquire(t, b, p)
	if pl.Token() != 0 {
		t.Errorf("probe token = %d, want 0", pl.Token())
	}
	if _, err := b.Acquire(ctx, p); !errors.Is(err, lock.ErrWouldBlock) {
		t.Errorf("second probe while held = %v, want ErrWouldBlock", err)
	}
	if after, _ := os.ReadFile(b.Path("a.org")); string(after) != string(before) {
		t.Errorf("probe rewrote the record: %q -> %q", before, after)
	}
	pl.Release()
	if l := mustAcquire(t, b, req("a.org")); l.Token() <= tok {
		t.Errorf("token after a probe = %d, want > %d", l.Token(), tok)
	} else {
		l.Release()
	}

	// A probe never creates: a missing lockfile, or lock dir, is an error
	// wrapping os.ErrNotExist, and nothing appears.
	b2 := New(filepath.Join(t.TempDir(), "fresh"))
	for _, tc := range []struct {
		b      *Backend
		domain string
	}{{b, "b.org"}, {b2, "a.org"}} {
		p := req(tc.domain)
		p.Probe, p.NonBlock = true, true
		if l, err := tc.b.Acquire(ctx, p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("probe of missing %s = %v, %v; want os.ErrNotExist", tc.b.Path(tc.domain), l, err)
		}
		if _, err := os.Lstat(tc.b.Path(tc.domain)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("probe created %s (%v)", tc.b.Path(tc.domain), err)
		}
	}
}

// TestProbeUnlink: a probe lock (opened relative to the lock dir's fd)
// unlinks its lockfile only while the name still names the locked inode:
// a file put in its place meanwhile is kept. After Close, a new probe
// opens the lock dir again.
func TestProbeUnlink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lock")
	b := New(dir)
	ctx := context.Background()
	p := req("a.org")
	p.Probe, p.NonBlock = true, true
	for _, d := range []string{"a.org", "b.org"} {
		mustAcquire(t, b, req(d)).Release()
	}

	l := mustAcquire(t, b, p)
	if err := l.Unlink(); err != nil {
		t.Fatalf("Unlink: %v", err)
	}
	l.Release()
	if _, err := os.Lstat(b.Path("a.org")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Unlink, %s: %v; want it gone", b.Path("a.org"), err)
	}

	p.Domain = "b.org"
	l = mustAcquire(t, b, p)
	os.Remove(b.Path("b.org"))
	if err := os.WriteFile(b.Path("b.org"), []byte("newer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlink(); err != nil {
		t.Fatalf("Unlink of a replaced lockfile: %v", err)
	}
	l.Release()
	if got, err := os.ReadFile(b.Path("b.org")); string(got) != "newer\n" {
		t.Errorf("the newer %s = %q, %v; want it kept", b.Path("b.org"), got, err)
	}

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l = mustAcquire(t, b, p)
	if err := l.Unlink(); err != nil {
		t.Fatalf("Unlink after Close: %v", err)
	}
	l.Release()
	if _, err := os.Lstat(b.Path("b.org")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close and a new probe's Unlink, %s: %v; want it gone", b.Path("b.org"), err)
	}
	b.Close()
	if _, err := b.Acquire(ctx, p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("probe of an unlinked lockfile = %v; want os.ErrNotExist", err)
	}
}

// TestStatusSkipsBadEntries: a lockfile that cannot be probed is reported
// by path and skipped; the others are still listed.
func TestStatusSkipsBadEntries(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	mustAcquire(t, b, req("a.org")).Release()
	mustAcquire(t, b, req("z.org")).Release()
	os.Symlink("/etc/passwd", b.Path("m.org"))
	unix.Mkfifo(b.Path("n.org"), 0o644)
	es, err := b.Status(context.Background())
	var got []string
	for _, e := range es {
		got = append(got, e.Domain)
	}
	if strings.Join(got, " ") != "a.org z.org" {
		t.Errorf("Status listed %v, want a.org z.org", got)
	}
	if err == nil || !strings.Contains(err.Error(), b.Path("m.org")) || !strings.Contains(err.Error(), b.Path("n.org")) {
		t.Errorf("Status error = %v; want one naming each bad entry", err)
	}
}

// Every valid domain can be locked: up to 240 characters under the
// contract's name, 241-253 under a name that fits NAME_MAX, is itself a
// valid domain, and differs for domains that share their first 176.
func TestLongDomains(t *testing.T) {
	b := New(t.TempDir())
	label := strings.Repeat("a", 63)
	d240 := label + "." + label + "." + label + "." + strings.Repeat("b", 48)
	d253 := label + "." + label + "." + label + "." + strings.Repeat("b", 61)
	d253b := label + "." + label + "." + label + "." + strings.Repeat("b", 60) + "c"
	if got := filepath.Base(b.Path(d240)); got != "cc-ci-app-"+d240+".lock" {
		t.Errorf("240-character domain's lockfile %q, want the contract's name", got)
	}
	seen := map[string]bool{}
	for _, d := range []string{d240, d253, d253b, d253[:241]} {
		if _, err := names.Domain(d); err != nil {
			t.Fatalf("test domain invalid: %v", err)
		}
		n := filepath.Base(b.Path(d))
		if len(n) > 255 || seen[n] {
			t.Errorf("lockfile %q: %d bytes, seen before %v", n, len(n), seen[n])
		}
		seen[n] = true
		fd, _ := domainOf(n)
		if _, err := names.Domain(fd); err != nil {
			t.Errorf("lockfile %q does not read back as a domain: %v", n, err)
		}
		mustAcquire(t, b, req(d)).Release()
	}
}

// While only shared holders hold a lock, Probe and Status report it held
// with no holder, never the last exclusive holder's record (a dead pid).
func TestProbeShared(t *testing.T) {
	b := New(t.TempDir())
	r := req("a.org")
	r.Holder = lock.Holder{Run: "old", PID: 999999}
	mustAcquire(t, b, r).Release()
	sr := req("a.org")
	sr.Shared = true
	l := mustAcquire(t, b, sr)
	defer l.Release()
	held, h, err := b.Probe(context.Background(), "a.org")
	if !held || h != nil || err != nil {
		t.Errorf("Probe under a shared holder = %v, %+v, %v; want held, no holder", held, h, err)
	}
	es, err := b.Status(context.Background())
	if err != nil || len(es) != 1 || !es[0].Held || es[0].Holder != nil {
		t.Errorf("Status = %+v, %v; want a.org held, no holder", es, err)
	}
}

// While only shared holders hold a lock, a blocked or refused exclusive
// request names no holder rather than the last exclusive holder's record,
// even when that record carries a shared holder's own pid (in-process:
// ccci-sh runs ccci-lock in the same process twice).
func TestNonBlockShared(t *testing.T) {
	b := New(t.TempDir())
	r := req("a.org")
	r.Holder.Run = "old"
	mustAcquire(t, b, r).Release()
	sr := req("a.org")
	sr.Shared = true
	l := mustAcquire(t, b, sr)
	defer l.Release()

	nr := req("a.org")
	nr.NonBlock = true
	_, err := b.Acquire(context.Background(), nr)
	if !errors.Is(err, lock.ErrWouldBlock) || strings.Contains(err.Error(), "run old") {
		t.Errorf("-n under a shared holder: %v; want a conflict naming no stale holder", err)
	}

	var events []lock.Event
	wr := req("a.org")
	wr.Wait = 50 * time.Millisecond
	wr.Notify = func(e lock.Event) { events = append(events, e) }
	_, err = b.Acquire(context.Background(), wr)
	if !errors.Is(err, lock.ErrTimeout) || strings.Contains(err.Error(), "run old") {
		t.Errorf("-w under a shared holder: %v; want a timeout naming no stale holder", err)
	}
	if len(events) == 0 || events[0].Kind != lock.Waiting || events[0].Holder.Run != "" {
		t.Errorf("events = %+v; want Waiting with no holder", events)
	}
}
