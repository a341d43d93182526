package lock

import (
	"io"
	"os"
	"strconv"
	"time"

	"github.com/fatih/color"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Progress returns a Request.Notify that prints the contract's lines to w
// (stderr), in colour when colour is set:
//
//	== app lock: <domain> in flight (run <id>, pid <pid>, since <RFC3339>) — waiting ==
//	== app lock: <domain> still waiting (1m30s) for run <id> (pid <pid>) ==
//	== app lock: <domain> acquired (waited <dur>) ==
//
// Fields of an unreadable holder record print as "?".
func Progress(w io.Writer, colour bool) func(Event) {
	wait, done := color.New(color.FgYellow), color.New(color.FgGreen)
	if colour {
		wait.EnableColor()
		done.EnableColor()
	} else {
		wait.DisableColor()
		done.DisableColor()
	}
	return func(e Event) {
		h := e.Holder
		switch e.Kind {
		case Waiting:
			wait.Fprintf(w, "== app lock: %s in flight (run %s, pid %s, since %s) — waiting ==", Safe(e.Domain), run(h), pid(h), since(h))
		case StillWaiting:
			wait.Fprintf(w, "== app lock: %s still waiting (%s) for run %s (pid %s) ==", Safe(e.Domain), e.Waited.Round(time.Second), run(h), pid(h))
		case Acquired:
			done.Fprintf(w, "== app lock: %s acquired (waited %s) ==", Safe(e.Domain), Round(e.Waited))
		default:
			return
		}
		io.WriteString(w, "\n") // after the colour reset, so a line never ends coloured
	}
}

// Round shortens a waited duration for humans: milliseconds under a
// minute, seconds above.
func Round(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

func run(h Holder) string {
	if h.Run == "" {
		return "?"
	}
	return Safe(h.Run)
}

// Safe is s for a terminal line: as is when every byte is printable and
// not a quote or backslash, else Go-quoted, so a record field or a
// lockfile name written by someone else can never forge a line (a
// newline) or send escape sequences (TestSafe).
func Safe(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}

func pid(h Holder) string {
	if h.PID <= 0 {
		return "?"
	}
	return strconv.Itoa(h.PID)
}

func since(h Holder) string {
	if h.Since.IsZero() {
		return "?"
	}
	return h.Since.Format(time.RFC3339)
}

// ColourOn reports whether ccci colours its stderr: NO_COLOR (non-empty)
// wins, FORCE_COLOR (non-empty) forces it, otherwise only when stderr is a
// terminal.
func ColourOn(env *applet.Env) bool {
	if env.Getenv("NO_COLOR") != "" {
		return false
	}
	if env.Getenv("FORCE_COLOR") != "" {
		return true
	}
	f, ok := env.Stderr.(*os.File)
	if !ok {
		return false
	}
	return isTerminal(f)
}
