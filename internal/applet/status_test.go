package applet

import (
	"os/exec"
	"testing"
)

// TestStatus: a finished process's status is what a shell's $? says: the
// exit code, 128+N for signal N, 126 for one never started.
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"kill -TERM $$", 143},
		{"kill -KILL $$", 137},
	} {
		c := exec.Command("sh", "-c", tc.script)
		c.Run()
		if got := Status(c.ProcessState); got != tc.want {
			t.Errorf("sh -c %q: Status = %d; want %d", tc.script, got, tc.want)
		}
	}
	if got := Status(nil); got != ExitCannotRun {
		t.Errorf("Status(nil) = %d; want %d", got, ExitCannotRun)
	}
}
