package runstate

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/atomicfile"
)

// killEnv names the runs dir in which the re-executed test binary runs one
// Incr that SIGKILLs itself just before its rename.
const killEnv = "RUNSTATE_TEST_KILL_INCR"

// TestIncrKilledMidWrite: an Incr SIGKILLed after writing the new value
// and before the rename that publishes it (atomicfile's hook, in a child
// process: the test binary re-executed) leaves the old value readable; the
// temp file it left is dropped by the next Incr, which gives old+1.
// Verified to fail when the write is done in place: with atomicfile.Write
// changed to os.WriteFile(dst) followed by the hook, Get read 3, not 2.
func TestIncrKilledMidWrite(t *testing.T) {
	if runs := os.Getenv(killEnv); runs != "" {
		r, _ := Open(runs, "k")
		r.beforeRename = func(string) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute) // SIGKILL is not caught; never reached
		}
		r.Incr("n")
		os.Exit(9) // the hook did not run: the parent sees exit 9
	}
	runs := filepath.Join(t.TempDir(), "runs")
	r, _ := Open(runs, "k")
	for i := 0; i < 2; i++ {
		if _, err := r.Incr("n"); err != nil {
			t.Fatal(err)
		}
	}
	c := exec.Command(os.Args[0], "-test.run=^TestIncrKilledMidWrite$")
	c.Env = append(os.Environ(), killEnv+"="+runs)
	err := c.Run()
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v; want killed by SIGKILL at the hook", err)
	}
	if n, err := r.Get("n"); n != 2 || err != nil {
		t.Fatalf("Get after the kill = %d, %v; want the old value 2", n, err)
	}
	tmp := filepath.Join(r.Dir, tmpName)
	left, _ := filepath.Glob(filepath.Join(tmp, atomicfile.TempPattern("n")))
	if len(left) != 1 {
		t.Fatalf("temp files after the kill: %v; want the one the child wrote", left)
	}
	if b, _ := os.ReadFile(left[0]); string(b) != "3\n" {
		t.Fatalf("temp file holds %q; want the new value 3", b)
	}
	if n, err := r.Incr("n"); n != 3 || err != nil {
		t.Fatalf("Incr after the kill = %d, %v; want 3", n, err)
	}
	if es, _ := os.ReadDir(tmp); len(es) != 0 {
		t.Errorf("tmp/ holds %d entries after the next Incr; want none", len(es))
	}
}
