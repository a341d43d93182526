package proc

import (
	"os"
	"os/exec"
	"testing"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Stat
		ok   bool
	}{
		{"42 (sh) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0", Stat{"sh", 7, 12345}, true},
		{"42 (a b) (c)) R 9 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0", Stat{"a b) (c)", 9, 7}, true},
		{"42 (sh) S 7", Stat{}, false},
		{"garbage", Stat{}, false},
	} {
		got, ok := ParseStat([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseStat(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// Outside a PID namespace /proc's numbering is the process's own; a
// process that ended and was reaped does not exist; this process's
// ancestors include its parent.
func TestSelfExistsAncestors(t *testing.T) {
	if Self() != os.Getpid() {
		t.Errorf("Self() = %d, os.Getpid() = %d", Self(), os.Getpid())
	}
	if !Exists(os.Getpid()) {
		t.Error("Exists(self) = false")
	}
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if Exists(c.Process.Pid) {
		t.Errorf("Exists(%d) after it was reaped", c.Process.Pid)
	}
	if a := Ancestors(Self()); !a[Self()] || !a[os.Getppid()] {
		t.Errorf("Ancestors = %v, want self %d and parent %d", a, Self(), os.Getppid())
	}
}
