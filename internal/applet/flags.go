package applet

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a flag.Value taking a Go duration ("90s", "2m") or plain
// seconds ("90", "0.5"), as the contract allows everywhere.
type Duration struct{ D *time.Duration }

func (d Duration) String() string {
	if d.D == nil {
		return ""
	}
	return d.D.String()
}

func (d Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d.D = v
	return nil
}

// ParseDuration parses a Go duration or plain (possibly fractional) seconds.
// NaN, infinities and anything past time.Duration's range (about 292
// years) are errors: converted, they would become 0 or a negative
// duration, the default or no timeout at all (TestParseDuration).
func ParseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case math.IsNaN(f):
			return 0, fmt.Errorf("invalid duration %q: not a number", s)
		case f < 0:
			return 0, fmt.Errorf("invalid duration %q: negative", s)
		case f*float64(time.Second) >= math.MaxInt64: // also +Inf
			return 0, fmt.Errorf("invalid duration %q: out of range (at most %v)", s, time.Duration(math.MaxInt64))
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a Go duration (90s, 2m) or seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return d, nil
}

// Parse parses args the way every ccci applet takes them, as flock(1)
// and getopt do: options first, and for convenience also after the first
// npos positional arguments. The first word after those that is not an
// option starts the command ("ccci-lock D -n true" runs "true" under -n);
// a "--" among the options ends them and starts the command after it. A
// later "--" belongs to the command, untouched: "ccci-lock D git checkout
// -- f" runs git with its "--" (TestParse). Short options combine as
// getopt allows: "-nw 1", "-nw1", "-w1".
//
// It returns the positionals and the command. -h and --help give
// flag.ErrHelp; fs must use flag.ContinueOnError.
func Parse(fs *flag.FlagSet, args []string, npos int) (pos, cmd []string, err error) {
	rest := args
	for {
		opts, after, dash := splitOptions(fs, rest)
		if err := fs.Parse(opts); err != nil {
			return nil, nil, err
		}
		if dash {
			// Options ended by "--": what is left fills the positionals
			// still missing, the rest is the command.
			k := min(npos-len(pos), len(after))
			return append(pos, after[:k]...), append([]string{}, after[k:]...), nil
		}
		if len(after) == 0 {
			return pos, nil, nil
		}
		if len(pos) < npos {
			pos = append(pos, after[0])
			rest = after[1:]
			continue
		}
		return pos, append([]string{}, after...), nil
	}
}

// splitOptions splits args at the end of its leading options: opts (with
// combined short options expanded), the words after, and whether a "--"
// (dropped) ended them.
func splitOptions(fs *flag.FlagSet, args []string) (opts, after []string, dash bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return opts, args[i+1:], true
		case len(a) < 2 || a[0] != '-':
			return opts, args[i:], false
		}
		words, needsValue := expandShort(fs, a)
		opts = append(opts, words...)
		if needsValue && i+1 < len(args) {
			i++
			opts = append(opts, args[i])
		}
	}
	return opts, nil, false
}

// expandShort expands a getopt cluster ("-nw1" to "-n", "-w", "1") and
// says whether the last option still needs the next word as its value.
// A word that names a flag as it is ("-w", "--wait", "-deadline"), or that
// is not a cluster of known one-letter flags, is left for fs to take or
// refuse.
func expandShort(fs *flag.FlagSet, a string) (words []string, needsValue bool) {
	name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	if f := fs.Lookup(name); f != nil || strings.HasPrefix(a, "--") || len(name) < 2 {
		return []string{a}, f != nil && !hasValue && !isBool(f)
	}
	for i := 1; i < len(a); i++ {
		f := fs.Lookup(a[i : i+1])
		if f == nil {
			return []string{a}, false // not a cluster: fs reports it
		}
		words = append(words, "-"+a[i:i+1])
		if !isBool(f) {
			if i+1 < len(a) {
				return append(words, a[i+1:]), false
			}
			return words, true
		}
	}
	return words, false
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// IsHelp reports whether err is the -h/--help request.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// Usage writes text to e.Stdout for -h, or reports err with the usage's
// first line on e.Stderr; it returns the status to exit with.
func (e *Env) Usage(prog, text string, err error) int {
	if IsHelp(err) {
		fmt.Fprint(e.Stdout, text)
		return ExitOK
	}
	e.Errorf(prog, "%v", err)
	first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	fmt.Fprintf(e.Stderr, "%s\n(ccci-%s -h for help)\n", first, prog)
	return ExitUsage
}

// NewFlagSet returns a flag set that reports errors to its caller only
// (Usage prints them, once, in ccci's own shape).
func NewFlagSet(prog string) *flag.FlagSet {
	fs := flag.NewFlagSet("ccci-"+prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}
