package lifetime

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

func devNulls(t *testing.T) []*os.File {
	t.Helper()
	var fs []*os.File
	for range 3 {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	return fs
}

// TestChildSignalAfterWait: Signal reaches the child until Wait has
// reaped it; after that it sends nothing (the pid may name another
// process by then) and reports os.ErrProcessDone.
func TestChildSignalAfterWait(t *testing.T) {
	c, err := startChild("/bin/sh", []string{"sh", "-c", "sleep 30"}, nil, "", devNulls(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal before Wait: %v", err)
	}
	ws, err := c.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("wait status %v, want killed by SIGTERM", ws)
	}
	if err := c.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after Wait: %v, want os.ErrProcessDone", err)
	}
}

// TestChildEnv: a nil environment is this process's, as os.StartProcess
// makes it; a start that fails is a *os.PathError naming the program.
func TestChildEnv(t *testing.T) {
	t.Setenv("CCCI_CHILD_TEST", "yes")
	c, err := startChild("/bin/sh", []string{"sh", "-c", `test "$CCCI_CHILD_TEST" = yes`}, nil, "", devNulls(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ws, err := c.Wait(); err != nil || ws.ExitStatus() != 0 {
		t.Errorf("the child did not see the environment: %v, %v", ws, err)
	}
	_, err = startChild("/nonexistent", []string{"x"}, nil, "", devNulls(t), nil)
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "fork/exec" || pe.Path != "/nonexistent" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("start of a missing program: %v, want fork/exec /nonexistent: ENOENT", err)
	}
}
