package testbed

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main is the TestMain of an end-to-end test package: it builds ccci
// (static, as `make build`) from the repository at root into a new
// temporary directory, and each of extra ("name=./pkg", relative to the
// test's package) beside it; installs the ccci-* symlinks there; sets
// *bin to it; holds the daemon shared as who while the tests run (the
// dockerd restart test waits for that: Alone); runs m; removes the
// directory and exits with the tests' status.
func Main(m *testing.M, who, root string, bin *string, extra ...string) {
	dir, err := os.MkdirTemp("", "ccci-"+who+"-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = dir
	status := func() int {
		run := func(what string, c *exec.Cmd) bool {
			c.Env = append(os.Environ(), "CGO_ENABLED=0")
			c.Stdout, c.Stderr = os.Stderr, os.Stderr
			if err := c.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %s: %v\n", who, what, err)
				return false
			}
			return true
		}
		if !run("build ccci", exec.Command("go", "build", "-o", filepath.Join(dir, "ccci"), root)) {
			return 1
		}
		for _, e := range extra {
			name, pkg, _ := strings.Cut(e, "=")
			if !run("build "+name, exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)) {
				return 1
			}
		}
		if !run("ccci --install", exec.Command(filepath.Join(dir, "ccci"), "--install", dir)) {
			return 1
		}
		if err := Share(who); err != nil {
			fmt.Fprintf(os.Stderr, "%s: testbed.Share: %v\n", who, err)
			return 1
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(status)
}

// Poll reports whether cond came to hold within d, checking every few
// milliseconds: what every wait of the tests is, never a bare sleep.
func Poll(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// SyncBuffer is a command's output that a test may read while the
// command still writes it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
