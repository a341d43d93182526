package lock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxRecord bounds how much of a lockfile is read as its holder record; a
// record is one short line, anything longer is garbage.
const MaxRecord = 4096

// EncodeRecord returns h as the holder record stored in a lockfile: one line
// of JSON ending in '\n'. One line, so a reader that races a writer (which
// rewrites in place, then truncates) can cut at the first newline and either
// parse a whole record or report garbage, never misread a mix of two.
func EncodeRecord(h Holder) []byte {
	b, err := json.Marshal(h)
	if err != nil { // Holder has only plain fields: cannot happen
		panic("lock: encode holder record: " + err.Error())
	}
	return append(b, '\n')
}

// ErrNoRecord is ParseRecord's error for an empty lockfile (never held, or
// held by the harness ccci replaces, which writes nothing).
var ErrNoRecord = errors.New("no holder record")

// ParseRecord parses the holder record at the start of b (a lockfile's
// content). It never panics on garbage: a torn or foreign record gives an
// error that says what was wrong (FuzzParseRecord).
func ParseRecord(b []byte) (Holder, error) {
	if len(b) > MaxRecord {
		b = b[:MaxRecord]
	}
	line, _, found := bytes.Cut(b, []byte{'\n'})
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		if !found && len(bytes.TrimSpace(b)) == 0 {
			return Holder{}, ErrNoRecord
		}
		return Holder{}, fmt.Errorf("garbled holder record: empty first line")
	}
	if !found {
		// A record always ends in '\n'; without one it was cut short.
		return Holder{}, fmt.Errorf("garbled holder record: no end of line in %q", abbrev(line))
	}
	var h Holder
	if err := json.Unmarshal(line, &h); err != nil {
		return Holder{}, fmt.Errorf("garbled holder record %q: %v", abbrev(line), err)
	}
	if h.PID < 0 {
		return Holder{}, fmt.Errorf("garbled holder record %q: negative pid", abbrev(line))
	}
	return h, nil
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// Describe is a holder for humans: "run 42, pid 1234, host ci-1, since
// 2025-05-01T12:00:00Z"; "holder unknown" when there is no record.
func Describe(h *Holder) string {
	if h == nil {
		return "holder unknown"
	}
	if h.Foreign {
		return fmt.Sprintf("pid %s (%s), not a ccci run, lockfile since %s", pid(*h), h.Cmd, since(*h))
	}
	s := fmt.Sprintf("run %s, pid %s", run(*h), pid(*h))
	if h.Host != "" {
		s += ", host " + Safe(h.Host)
	}
	return s + ", since " + since(*h)
}
