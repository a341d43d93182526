package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
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
	for want := uint64(1); want <= 3; want++ {
		l := mustAcquire(t, b, req("a.org"))
		if l.Token() != want {
			t.Errorf("token = %d, want %d", l.Token(), want)
		}
		_, h, err := b.Probe(context.Background(), "a.org")
		if err != nil || h == nil || h.Token != want || h.Run != "t" || h.PID != os.Getpid() {
			t.Errorf("record = %+v, %v; want token %d, run t, our pid", h, err, want)
		}
		l.Release()
	}
	// A garbled record restarts the token rather than failing the lock.
	os.WriteFile(b.Path("a.org"), []byte("\x00garbage"), 0o644)
	l := mustAcquire(t, b, req("a.org"))
	defer l.Release()
	if l.Token() != 1 {
		t.Errorf("token after garbage = %d, want 1", l.Token())
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
	} {
		t.Run(tc.name, func(t *testing.T) {
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
		})
	}
}

func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	// A missing lock dir is created...
	b := New(filepath.Join(dir, "lock"))
	mustAcquire(t, b, req("a.org")).Release()
	if fi, err := os.Stat(filepath.Join(dir, "lock")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("lock dir: %v %v; want created 0755", fi, err)
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

// A waiter wakes when the holder releases: no polling interval to wait out.
func TestWaiterWakes(t *testing.T) {
	b := New(t.TempDir())
	l := mustAcquire(t, b, req("a.org"))
	got := make(chan lock.Lock)
	waiting := make(chan struct{})
	go func() {
		r := req("a.org")
		r.Notify = func(e lock.Event) {
			if e.Kind == lock.Waiting {
				close(waiting)
			}
		}
		l2, err := b.Acquire(context.Background(), r)
		if err != nil {
			t.Error(err)
		}
		got <- l2
	}()
	<-waiting
	l.Release()
	select {
	case l2 := <-got:
		if l2.Token() != 2 {
			t.Errorf("waiter's token = %d, want 2", l2.Token())
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
	got := make(chan lock.Lock)
	waiting := make(chan struct{})
	go func() {
		r := req("a.org")
		r.Notify = func(e lock.Event) {
			if e.Kind == lock.Waiting {
				close(waiting)
			}
		}
		l2, err := b.Acquire(context.Background(), r)
		if err != nil {
			t.Error(err)
		}
		got <- l2
	}()
	<-waiting
	// The holder (a janitor) unlinks while holding, then releases: the
	// waiter wakes on the dead inode and must lock a fresh file instead.
	if err := l.Unlink(); err != nil {
		t.Fatal(err)
	}
	l.Release()
	l2 := <-got
	defer l2.Release()
	fd := l2.(*held).fd
	if same, err := sameFile(fd, b.Path("a.org")); !same || err != nil {
		t.Fatalf("waiter holds an inode the path does not name (%v)", err)
	}
	if l2.Token() != 1 {
		t.Errorf("token on the fresh file = %d, want 1", l2.Token())
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
