package applet

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParse: for any argument list (words split on NUL), Parse never
// panics, takes at most npos positionals, and returns the command as the
// exact tail of args, untouched (a command's own "--" and options kept).
func FuzzParse(f *testing.F) {
	f.Add("D\x00git\x00checkout\x00--\x00f")
	f.Add("-nw\x001\x00D\x00--\x00true")
	f.Add("-w1\x00D\x00-n\x00ls\x00-nw")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		fs := NewFlagSet("t")
		var n bool
		var w time.Duration
		var c string
		fs.BoolVar(&n, "n", false, "")
		fs.Var(Duration{D: &w}, "w", "")
		fs.StringVar(&c, "c", "", "")
		pos, cmd, err := Parse(fs, args, 1)
		if err != nil {
			return
		}
		if len(pos) > 1 {
			t.Fatalf("%q: %d positionals, at most 1", args, len(pos))
		}
		if len(cmd) > 0 && !slices.Equal(cmd, args[len(args)-len(cmd):]) {
			t.Fatalf("%q: command %q is not the tail of args", args, cmd)
		}
	})
}
