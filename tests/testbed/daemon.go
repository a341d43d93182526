package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lockfile"
)

// Every test binary of `go test ./...` that may talk to dockerd holds a
// shared flock on daemonLock for its whole life (Share, from TestMain); the
// one test that restarts dockerd turns its binary's hold exclusive (Alone),
// so the restart happens only while no other test binary runs, and those
// started meanwhile wait for it at Share. This is how the restart test can
// be part of `make test` without failing the tests that share the daemon.
var daemonLock = filepath.Join(os.TempDir(), "ccci-tests-dockerd.lock")

// daemon is this process's open description of daemonLock; flock locks
// belong to it, so Alone converts the same hold Share took.
var daemon *os.File

// Share takes this process's shared hold on the daemon, waiting (and saying
// so every 30 s on stderr) while a restart test holds it exclusively. The
// fd is close-on-exec: no child of the test inherits the hold.
func Share(who string) error {
	f, err := os.OpenFile(daemonLock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fd := int(f.Fd())
	for start, said := time.Now(), time.Now(); ; {
		err := lockfile.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			daemon = f
			return nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return fmt.Errorf("flock %s: %v", daemonLock, err)
		}
		if time.Since(said) >= 30*time.Second {
			fmt.Fprintf(os.Stderr, "%s: waiting %v for the dockerd restart test to finish (%s)\n",
				who, time.Since(start).Round(time.Second), daemonLock)
			said = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Alone makes this process the only test binary using dockerd until t
// ends: it waits, at most within, for every other binary's shared hold to
// go, logging while it waits, then holds daemonLock exclusively; at t's end
// the hold is shared again. Tests of this binary must not run in parallel
// with t (t itself is not parallel, so none does).
func Alone(t testing.TB, within time.Duration) {
	t.Helper()
	if daemon == nil {
		t.Fatal("testbed.Alone: Share was not called (in TestMain)")
	}
	fd := int(daemon.Fd())
	// At t's end the hold is shared again, also when t fails while it
	// waits: a conversion that would block has dropped the shared hold
	// already (flock(2)).
	t.Cleanup(func() {
		if err := lockfile.Flock(fd, unix.LOCK_SH); err != nil {
			t.Errorf("flock %s back to shared: %v", daemonLock, err)
		}
	})
	start, said := time.Now(), time.Now()
	for {
		err := lockfile.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK {
			t.Fatalf("flock %s: %v", daemonLock, err)
		}
		if time.Since(start) > within {
			t.Fatalf("other test binaries still use dockerd after %v (%s)", within, daemonLock)
		}
		if time.Since(said) >= 30*time.Second {
			t.Logf("waiting %v for the other test binaries to finish with dockerd", time.Since(start).Round(time.Second))
			said = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("alone on dockerd after %v", time.Since(start).Round(time.Millisecond))
}
