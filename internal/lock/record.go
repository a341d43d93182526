package lock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxRecord bounds how much of a lockfile is read as its holder record; a
// record is one short line, anything longer is garbage.
const MaxRecord = 4096

// EncodeRecord returns h as the holder record stored in a lockfile: one line
// of JSON ending in '\n'. One line, so a reader that races a writer (which
// rewrites in place, then truncates) can cut at the first newline and either
// parse a whole record or report garbage, never misread a mix of two.
func EncodeRecord(h Holder) []byte {
	if b, ok := appendRecord(make([]byte, 0, 128), h); ok {
		return append(b, '\n')
	}
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
	h, ok := parseRecord(string(line))
	if !ok {
		if err := json.Unmarshal(line, &h); err != nil {
			return Holder{}, fmt.Errorf("garbled holder record %q: %v", abbrev(line), err)
		}
	}
	if h.PID < 0 {
		return Holder{}, fmt.Errorf("garbled holder record %q: negative pid", abbrev(line))
	}
	return h, nil
}

// appendRecord appends json.Marshal(h), written out for a holder whose
// strings need no escaping, as every ccci holder's do: encoding/json's
// first use in a process (reflecting over Holder) cost more than all the
// rest ccci-lock does to its lockfile. ok is false for a string that
// needs escaping: json.Marshal writes that record (FuzzParseRecord checks
// the two agree).
func appendRecord(b []byte, h Holder) (_ []byte, ok bool) {
	since, err := h.Since.MarshalJSON()
	if err != nil || !plain(h.Run, true) || !plain(h.Host, true) || !plain(h.Cmd, true) {
		return nil, false
	}
	b = append(b, `{"run":"`...)
	b = append(b, h.Run...)
	b = append(b, `","pid":`...)
	b = strconv.AppendInt(b, int64(h.PID), 10)
	b = append(b, `,"host":"`...)
	b = append(b, h.Host...)
	b = append(b, `","since":`...)
	b = append(b, since...)
	if h.Cmd != "" {
		b = append(b, `,"cmd":"`...)
		b = append(b, h.Cmd...)
		b = append(b, '"')
	}
	if h.Token != 0 {
		b = append(b, `,"token":`...)
		b = strconv.AppendUint(b, h.Token, 10)
	}
	if h.Foreign {
		b = append(b, `,"foreign":true`...)
	}
	return append(b, '}'), true
}

// plain: s is printable ASCII that a JSON string holds as is: no quote,
// no backslash and, when encoding, none of the <, > and & that
// encoding/json escapes.
func plain(s string, encoding bool) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e || c == '"' || c == '\\':
			return false
		case encoding && (c == '<' || c == '>' || c == '&'):
			return false
		}
	}
	return true
}

// parseRecord is json.Unmarshal of a line in exactly the form appendRecord
// writes, without reflection; ok is false for any other line, which
// json.Unmarshal then parses or refuses (FuzzParseRecord checks that
// whatever parseRecord accepts, json.Unmarshal reads the same).
func parseRecord(line string) (h Holder, ok bool) {
	p := scanner{s: line, ok: true}
	p.lit(`{"run":"`)
	h.Run = p.str()
	p.lit(`,"pid":`)
	pid, err := strconv.ParseInt(p.num(), 10, strconv.IntSize)
	h.PID = int(pid)
	p.ok = p.ok && err == nil
	p.lit(`,"host":"`)
	h.Host = p.str()
	p.lit(`,"since":"`)
	since := p.str()
	if p.ok && h.Since.UnmarshalJSON([]byte(`"`+since+`"`)) != nil {
		return Holder{}, false
	}
	if p.opt(`,"cmd":"`) {
		h.Cmd = p.str()
	}
	if p.opt(`,"token":`) {
		h.Token, err = strconv.ParseUint(p.num(), 10, 64)
		p.ok = p.ok && err == nil
	}
	h.Foreign = p.opt(`,"foreign":true`)
	p.lit("}")
	if !p.ok || p.s != "" {
		return Holder{}, false
	}
	return h, true
}

// scanner walks parseRecord's line; ok turns false at the first mismatch.
type scanner struct {
	s  string
	ok bool
}

func (p *scanner) lit(l string) {
	if !p.opt(l) {
		p.ok = false
	}
}

func (p *scanner) opt(l string) bool {
	if p.ok && strings.HasPrefix(p.s, l) {
		p.s = p.s[len(l):]
		return true
	}
	return false
}

// str is a plain string up to its closing quote.
func (p *scanner) str() string {
	i := strings.IndexByte(p.s, '"')
	if !p.ok || i < 0 || !plain(p.s[:i], false) {
		p.ok = false
		return ""
	}
	v := p.s[:i]
	p.s = p.s[i+1:]
	return v
}

// num is a JSON number that is a non-negative integer: 0 or [1-9][0-9]*.
func (p *scanner) num() string {
	i := 0
	for i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' {
		i++
	}
	if !p.ok || i == 0 || i > 1 && p.s[0] == '0' {
		p.ok = false
		return ""
	}
	v := p.s[:i]
	p.s = p.s[i:]
	return v
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
