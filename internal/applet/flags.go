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

// Parse parses args the way every ccci applet takes them: options first, as
// in flock(1), and for convenience also after the first npos positional
// arguments, up to "--". Everything after "--" is the command, untouched.
// Without "--", the first non-option after the npos positionals starts the
// command, as flock(1) does: "ccci-lock D -n true" runs "true" under -n.
//
// It returns the positionals and the command. -h and --help give
// flag.ErrHelp; fs must use flag.ContinueOnError.
func Parse(fs *flag.FlagSet, args []string, npos int) (pos, cmd []string, err error) {
	dash := -1
	for i, a := range args {
		if a == "--" {
			dash = i
			break
		}
	}
	rest := args
	if dash >= 0 {
		rest, cmd = args[:dash], append([]string{}, args[dash+1:]...)
	}
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(pos) < npos {
			pos = append(pos, rest[0])
			rest = rest[1:]
			continue
		}
		// A positional past npos: without "--" it starts the command.
		if dash < 0 {
			cmd = rest
			break
		}
		return nil, nil, fmt.Errorf("unexpected argument %q before --", rest[0])
	}
	return pos, cmd, nil
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
