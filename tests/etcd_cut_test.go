package tests

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestEtcdNoOverlapCut: a holder cut off from etcd (a TCP proxy between
// it and the cluster stops passing bytes) ends its command, every process
// of it, before another host's command starts under the same lock. The
// cut holder's command ignores SIGTERM, so only the teardown's SIGKILL
// within CCCI_ETCD_MARGIN ends it: the worst case. Any overlap fails.
func TestEtcdNoOverlapCut(t *testing.T) {
	endpoints, _, stop, err := etcdCluster(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for i := range 3 {
		t.Run(fmt.Sprint("cut", i), func(t *testing.T) { cutOnce(t, endpoints, fmt.Sprintf("cut%d.example.org", i)) })
	}
}

func cutOnce(t *testing.T, endpoints, domain string) {
	dir := t.TempDir()
	p := startProxy(t, strings.Split(endpoints, ","))
	fifoA, fifoB := filepath.Join(dir, "a.fifo"), filepath.Join(dir, "b.fifo")
	for _, f := range []string{fifoA, fifoB} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lockCmd := func(host, eps string, argv ...string) (*exec.Cmd, *lockedBuffer) {
		if err := os.Mkdir(filepath.Join(dir, host), 0o700); err != nil {
			t.Fatal(err)
		}
		c := exec.Command(filepath.Join(binDir, "ccci-lock"), append([]string{domain, "--"}, argv...)...)
		c.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"),
			"CCCI_LOCK_BACKEND=etcd", "CCCI_ETCD_ENDPOINTS="+eps, "CCCI_ETCD_TTL=3s",
			"CCCI_LOCK_DIR="+filepath.Join(dir, host), "CCCI_RUN_ID=run-"+host)
		var stderr lockedBuffer
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c, &stderr
	}

	// A's command holds a.fifo open for writing: EOF on our end is the
	// moment its last process died.
	aOpen, aEnd := make(chan struct{}), make(chan time.Time, 1)
	go func() {
		f, err := os.Open(fifoA)
		if err != nil {
			t.Error(err)
			return
		}
		close(aOpen)
		io.Copy(io.Discard, f)
		aEnd <- time.Now()
		f.Close()
	}()
	a, aErr := lockCmd("a", p.endpoints, "sh", "-c", `exec 3>"$1"; trap "" TERM; exec sleep 1000`, "sh", fifoA)
	select {
	case <-aOpen:
	case <-time.After(deadline):
		t.Fatalf("A's command never started; stderr:\n%s", aErr)
	}

	// B's command opens b.fifo: our open returns when it starts.
	bStart := make(chan time.Time, 1)
	go func() {
		f, err := os.Open(fifoB)
		if err != nil {
			t.Error(err)
			return
		}
		bStart <- time.Now()
		io.Copy(io.Discard, f)
		f.Close()
	}()
	b, bErr := lockCmd("b", endpoints, "sh", "-c", `echo b > "$1"`, "sh", fifoB)
	for end := time.Now().Add(deadline); !strings.Contains(bErr.String(), "in flight (run run-a"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("B never queued behind A; stderr:\n%s", bErr)
		}
	}

	cut := time.Now()
	p.cut()
	var ended, started time.Time
	select {
	case ended = <-aEnd:
	case <-time.After(deadline):
		t.Fatalf("A's command still runs %v after the cut; stderr:\n%s", deadline, aErr)
	}
	select {
	case started = <-bStart:
	case <-time.After(deadline):
		t.Fatalf("B never started after the cut; stderr:\n%s", bErr)
	}
	if err := a.Wait(); err == nil || a.ProcessState.ExitCode() != 75 {
		t.Errorf("A: %v, want exit 75; stderr:\n%s", err, aErr)
	}
	if !strings.Contains(aErr.String(), "app lock lost") {
		t.Errorf("A does not say why it ended:\n%s", aErr)
	}
	if err := b.Wait(); err != nil {
		t.Errorf("B: %v; stderr:\n%s", err, bErr)
	}
	t.Logf("cut at 0; A's command gone at %v; B's started at %v (gap %v)",
		ended.Sub(cut).Round(time.Millisecond), started.Sub(cut).Round(time.Millisecond), started.Sub(ended).Round(time.Millisecond))
	if !ended.Before(started) {
		t.Fatalf("overlap: A's command outlived B's start by %v", ended.Sub(started))
	}
}

// proxy forwards loopback ports to etcd members until cut, then passes no
// byte either way while keeping the holder's connections open, as a
// partition does.
type proxy struct {
	endpoints string // comma-separated http:// URLs of its ports
	mu        sync.Mutex
	isCut     bool
	accepted  []net.Conn // the holder's side: kept open, silent, after the cut
	dialled   []net.Conn // the members' side: closed by the cut
}

func startProxy(t *testing.T, targets []string) *proxy {
	p := &proxy{}
	var eps []string
	for _, target := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		eps = append(eps, "http://"+ln.Addr().String())
		up := strings.TrimPrefix(target, "http://")
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				p.mu.Lock()
				p.accepted = append(p.accepted, c)
				p.mu.Unlock()
				go p.forward(c, up)
			}
		}()
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range append(p.accepted, p.dialled...) {
			c.Close()
		}
	})
	p.endpoints = strings.Join(eps, ",")
	return p
}

func (p *proxy) forward(c net.Conn, up string) {
	p.mu.Lock()
	cut := p.isCut
	p.mu.Unlock()
	if cut {
		return
	}
	u, err := net.Dial("tcp", up)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.isCut {
		p.mu.Unlock()
		u.Close()
		return
	}
	p.dialled = append(p.dialled, u)
	p.mu.Unlock()
	go io.Copy(u, c)
	io.Copy(c, u)
}

// cut closes every connection to the members and forwards no new one.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
	for _, u := range p.dialled {
		u.Close()
	}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
