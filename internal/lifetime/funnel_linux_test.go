package lifetime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// endHelperEnv makes the test binary, re-executed by TestEndLateSignal,
// the process under test instead of running tests.
const endHelperEnv = "CCCI_LIFETIME_END_HELPER"

// TestEndLateSignal is the deterministic regression test of the storm bug
// (tests/concurrency TestSignalStorm could only catch it under CPU load):
// End used to signal.Stop the funnel's Notify even after the funnel was
// entered, so a late signal of a storm, arriving after the teardown but
// before the exit, killed the process with its own number. A re-executed
// helper enters the funnel (SIGTERM to itself), calls End, then sends
// itself SIGHUP, SIGINT and SIGTERM with no Notify of its own; the parent
// sees it survive and exit 143 by itself. The signals are sent with
// tgkill to the sending thread, so each is handled before tgkill returns:
// nothing is timing-dependent. With End stopping the Notify regardless of
// the status (the bug, reverted locally), the "funnel" case fails: the
// helper dies of SIGHUP. The "no funnel" case is the control: a lifetime
// that ends normally does restore the default action, and the same
// harness sees that kill, unless Options.Exits says the process exits
// next: then the late signals are dropped and it exits with its status.
func TestEndLateSignal(t *testing.T) {
	if mode := os.Getenv(endHelperEnv); mode != "" {
		os.Exit(endHelper(mode))
	}
	for _, tc := range []struct {
		mode     string
		exit     int            // normal exit status, when not killed
		signaled syscall.Signal // else the signal that killed it
		funnel   int            // funnel lines on stderr
	}{
		{mode: "funnel", exit: 143, funnel: 1},
		{mode: "no funnel", signaled: syscall.SIGHUP},
		{mode: "no funnel, exits", exit: 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			c := exec.Command(os.Args[0], "-test.run=^TestEndLateSignal$")
			c.Env = append(os.Environ(), endHelperEnv+"="+tc.mode)
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Minute):
				c.Process.Kill()
				<-done
				t.Fatalf("helper still running after a minute; killed\n%s%s", &out, &errb)
			}
			ws := c.ProcessState.Sys().(syscall.WaitStatus)
			got := fmt.Sprintf("exit %d", ws.ExitStatus())
			if ws.Signaled() {
				got = "killed by " + ws.Signal().String()
			}
			want := fmt.Sprintf("exit %d", tc.exit)
			if tc.signaled != 0 {
				want = "killed by " + tc.signaled.String()
			}
			if got != want {
				t.Fatalf("helper %s, want %s\nstdout:\n%sstderr:\n%s", got, want, &out, &errb)
			}
			if tc.signaled == 0 && out.String() != "survived\n" {
				t.Errorf("stdout %q, want survived", &out)
			}
			if n := strings.Count(errb.String(), "ending the run"); n != tc.funnel {
				t.Errorf("%d funnel lines, want %d:\n%s", n, tc.funnel, &errb)
			}
		})
	}
}

// endHelper is the process under test: a lifetime ended through the
// funnel (or not), End, then late signals to itself; it prints "survived"
// and exits with the lifetime's status if none of them killed it.
func endHelper(mode string) int {
	l := Begin(context.Background(), Options{Prog: "lock", Stderr: os.Stderr, Exits: mode == "no funnel, exits"})
	if mode == "funnel" {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case <-l.Context().Done():
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "helper: the funnel was not entered")
			return 70
		}
	}
	l.End()
	// Thread-directed, to this very thread: delivered on the return from
	// tgkill, so the runtime's handler has run (queued the signal, or
	// killed the process) before the next line.
	runtime.LockOSThread()
	pid, tid := unix.Getpid(), unix.Gettid()
	for range 4 { // more than l.sigs holds: the overflow is dropped
		for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM} {
			if err := unix.Tgkill(pid, tid, s); err != nil {
				fmt.Fprintln(os.Stderr, "helper: tgkill:", err)
				return 70
			}
		}
	}
	fmt.Println("survived")
	return l.Status()
}
