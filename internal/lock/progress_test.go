package lock

import (
	"bytes"
	"os"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

func TestProgress(t *testing.T) {
	since := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	h := Holder{Run: "41", PID: 777, Since: since}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: Waiting, Domain: "a.org", Holder: h},
			"== app lock: a.org in flight (run 41, pid 777, since 2025-05-01T12:00:00Z) — waiting ==\n"},
		{Event{Kind: Waiting, Domain: "a.org"},
			"== app lock: a.org in flight (run ?, pid ?, since ?) — waiting ==\n"},
		{Event{Kind: StillWaiting, Domain: "a.org", Holder: h, Waited: 90*time.Second + 300*time.Millisecond},
			"== app lock: a.org still waiting (1m30s) for run 41 (pid 777) ==\n"},
		{Event{Kind: Acquired, Domain: "a.org", Waited: 1234567 * time.Microsecond},
			"== app lock: a.org acquired (waited 1.235s) ==\n"},
		{Event{Kind: Acquired, Domain: "a.org", Waited: 0},
			"== app lock: a.org acquired (waited 0s) ==\n"},
		// A record written by someone else cannot forge a line or send
		// escape sequences: the run id is printed quoted.
		{Event{Kind: Waiting, Domain: "a.org", Holder: Holder{Run: "x\n== app lock: a.org acquired ==\x1b[2J", PID: 1, Since: since}},
			"== app lock: a.org in flight (run \"x\\n== app lock: a.org acquired ==\\x1b[2J\", pid 1, since 2025-05-01T12:00:00Z) — waiting ==\n"},
	} {
		var b bytes.Buffer
		Progress(&b, false)(tc.e)
		if b.String() != tc.want {
			t.Errorf("got  %q\nwant %q", b.String(), tc.want)
		}
	}
	var b bytes.Buffer
	Progress(&b, true)(Event{Kind: Acquired, Domain: "a.org"})
	if !bytes.HasPrefix(b.Bytes(), []byte("\x1b[")) || !bytes.HasSuffix(b.Bytes(), []byte("\x1b[0m\n")) {
		t.Errorf("colour: got %q, want an escape sequence reset before the newline", b.String())
	}
}

func TestColourOn(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want bool
	}{
		{nil, false}, // stderr is a bytes.Buffer, not a terminal
		{[]string{"FORCE_COLOR=1"}, true},
		{[]string{"FORCE_COLOR=1", "NO_COLOR=1"}, false},
		{[]string{"NO_COLOR="}, false},
	} {
		env := &applet.Env{Stderr: &bytes.Buffer{}, Environ: tc.env}
		if got := ColourOn(env); got != tc.want {
			t.Errorf("ColourOn(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
	f, err := os.Create(t.TempDir() + "/not-a-tty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ColourOn(&applet.Env{Stderr: f}) {
		t.Error("ColourOn with a regular file as stderr = true, want false")
	}
}

// Safe leaves a valid run id, domain or host alone and quotes anything
// with a control byte, a quote or a backslash.
func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"41":          "41",
		"a-1.ci.org":  "a-1.ci.org",
		"x\ny":        `"x\ny"`,
		"\x1b[31mred": `"\x1b[31mred"`,
		`a"b`:         `"a\"b"`,
		"":            "",
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %s, want %s", in, got, want)
		}
	}
}
