package applet

import (
	"strings"
	"testing"
	"time"
)

// Every duration is in range or an error: NaN, infinities and overflow
// never become 0 or negative (which read as "default" or "no timeout").
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90":                    90 * time.Second,
		"0.5":                   500 * time.Millisecond,
		"0":                     0,
		"2m":                    2 * time.Minute,
		"1e9":                   1e9 * time.Second,
		"292y":                  -1, // not a Go unit
		"NaN":                   -1,
		"nan":                   -1,
		"inf":                   -1,
		"+Inf":                  -1,
		"-inf":                  -1,
		"1e300":                 -1,
		"1e400":                 -1,
		"-1":                    -1,
		"-1s":                   -1,
		"1e10":                  -1, // 317 years of seconds
		"9223372036854775808":   -1,
		"9223372036854775807ns": 1<<63 - 1,
		"9223372036854775808ns": -1,
	} {
		got, err := ParseDuration(in)
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), in) {
				t.Errorf("ParseDuration(%q) = %v, %v; want an error naming it", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// Options come first and after the positionals, as flock(1) and getopt
// take them; the first non-option after the positionals starts the
// command, and any later "--" is the command's own.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args     string
		pos, cmd string
		n        bool
		w        time.Duration
		err      string
	}{
		{args: "D git checkout -- f", pos: "D", cmd: "git checkout -- f"},
		{args: "D -- git checkout -- f", pos: "D", cmd: "git checkout -- f"},
		{args: "-n D -- true", pos: "D", cmd: "true", n: true},
		{args: "D -n true", pos: "D", cmd: "true", n: true},
		{args: "D -n -- -n", pos: "D", cmd: "-n", n: true},
		{args: "-nw 1 D true", pos: "D", cmd: "true", n: true, w: time.Second},
		{args: "-nw1 D true", pos: "D", cmd: "true", n: true, w: time.Second},
		{args: "-w1 D true", pos: "D", cmd: "true", w: time.Second},
		{args: "-w=2 --wait 3 D true", pos: "D", cmd: "true", w: 3 * time.Second},
		{args: "D ls -nw", pos: "D", cmd: "ls -nw"},
		{args: "-- D true", pos: "D", cmd: "true"},
		{args: "D", pos: "D"},
		{args: "-nx D true", err: "-nx"},
		{args: "-wn D true", err: "invalid duration"},
	} {
		fs := NewFlagSet("t")
		var n bool
		var w time.Duration
		fs.BoolVar(&n, "n", false, "")
		fs.Var(Duration{D: &w}, "w", "")
		fs.Var(Duration{D: &w}, "wait", "")
		pos, cmd, err := Parse(fs, strings.Fields(tc.args), 1)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want one with %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(pos, " ") != tc.pos || strings.Join(cmd, " ") != tc.cmd || n != tc.n || w != tc.w {
			t.Errorf("%q: pos %q cmd %q n %v w %v err %v; want pos %q cmd %q n %v w %v",
				tc.args, pos, cmd, n, w, err, tc.pos, tc.cmd, tc.n, tc.w)
		}
	}
}
