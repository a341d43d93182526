package lock

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	since := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, h := range []Holder{
		{},
		{Run: "42", PID: 1234, Host: "ci-1", Since: since, Cmd: "abra app deploy", Token: 7},
		{Run: "-", PID: 1, Host: "h\nwith newline", Since: since, Cmd: "sh -c 'a\nb'", Token: 1<<64 - 1},
	} {
		b := EncodeRecord(h)
		if strings.Count(string(b), "\n") != 1 || b[len(b)-1] != '\n' {
			t.Errorf("EncodeRecord(%+v) = %q: want exactly one line", h, b)
		}
		got, err := ParseRecord(b)
		if err != nil || !got.Since.Equal(h.Since) {
			t.Fatalf("ParseRecord(%q) = %+v, %v", b, got, err)
		}
		got.Since = h.Since
		if got != h {
			t.Errorf("round trip: got %+v, want %+v", got, h)
		}
	}
}

func TestParseRecord(t *testing.T) {
	good := string(EncodeRecord(Holder{Run: "9", PID: 5, Token: 3}))
	for _, tc := range []struct {
		name, in string
		run      string // want Run when no error
		token    uint64
		err      string // substring of the error; "" = success
	}{
		{"empty", "", "", 0, ErrNoRecord.Error()},
		{"blank", " \n", "", 0, "empty first line"},
		{"good", good, "9", 3, ""},
		// A shorter record written over a longer one, before the truncate:
		// the tail after the first line is ignored.
		{"stale tail", good + `"host":"old-long-hostname"}` + "\n", "9", 3, ""},
		{"torn", good[:len(good)/2], "", 0, "no end of line"},
		{"garbage", "\x00\xff\xfe\n", "", 0, "garbled"},
		{"foreign", "12345\n", "", 0, "garbled"},
		{"negative pid", `{"pid":-4}` + "\n", "", 0, "negative pid"},
		{"negative token", `{"token":-1}` + "\n", "", 0, "garbled"},
		{"huge", strings.Repeat("x", 3*MaxRecord) + "\n", "", 0, "no end of line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseRecord([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || h.Run != tc.run || h.Token != tc.token {
				t.Fatalf("got %+v, %v; want run %q token %d", h, err, tc.run, tc.token)
			}
		})
	}
	if _, err := ParseRecord(nil); !errors.Is(err, ErrNoRecord) {
		t.Errorf("ParseRecord(nil) = %v, want ErrNoRecord", err)
	}
}

// TestRecordFastPath: the record written and read without encoding/json's
// reflection is byte for byte, and field for field, what encoding/json
// writes and reads, and holders whose strings need escaping take
// encoding/json's path.
func TestRecordFastPath(t *testing.T) {
	since := time.Date(2025, 5, 1, 12, 0, 0, 123456789, time.FixedZone("", 3600))
	for _, tc := range []struct {
		h    Holder
		fast bool
	}{
		{Holder{}, true},
		{Holder{Run: "42", PID: 1234, Host: "ci-1", Since: since, Token: 1<<64 - 1}, true},
		{Holder{Run: "-", PID: 1, Host: "h", Since: since.UTC(), Cmd: "flock", Foreign: true}, true},
		{Holder{Run: "a<b", PID: 1}, false},
		{Holder{Host: "ünï"}, false},
		{Holder{Cmd: "sh -c 'a\nb'"}, false},
		{Holder{Cmd: `say "hi" \ bye`}, false},
	} {
		want, err := json.Marshal(tc.h)
		if err != nil {
			t.Fatal(err)
		}
		if _, fast := appendRecord(nil, tc.h); fast != tc.fast {
			t.Errorf("appendRecord(%+v): fast path %v, want %v", tc.h, fast, tc.fast)
		}
		got := EncodeRecord(tc.h)
		if string(got) != string(want)+"\n" {
			t.Errorf("EncodeRecord(%+v) = %q, want encoding/json's %q", tc.h, got, want)
		}
		if _, fast := parseRecord(string(want)); fast != tc.fast {
			t.Errorf("parseRecord(%q): fast path %v, want %v", want, fast, tc.fast)
		}
		checkSameAsJSON(t, want)
	}
}

// checkSameAsJSON fails when parseRecord accepts line but encoding/json
// refuses it or reads another holder.
func checkSameAsJSON(t *testing.T, line []byte) {
	t.Helper()
	h, ok := parseRecord(string(line))
	if !ok {
		return
	}
	var j Holder
	if err := json.Unmarshal(line, &j); err != nil {
		t.Fatalf("parseRecord accepts %q, encoding/json refuses it: %v", line, err)
	}
	if !h.Since.Equal(j.Since) || h.Since.String() != j.Since.String() {
		t.Fatalf("parseRecord(%q).Since = %v, encoding/json reads %v", line, h.Since, j.Since)
	}
	h.Since, j.Since = time.Time{}, time.Time{}
	if h != j {
		t.Fatalf("parseRecord(%q) = %+v, encoding/json reads %+v", line, h, j)
	}
}

// FuzzParseRecord: ParseRecord never panics, whatever it accepts re-encodes
// to a record that parses to the same holder, and its fast paths agree with
// encoding/json.
func FuzzParseRecord(f *testing.F) {
	f.Add(EncodeRecord(Holder{Run: "1", PID: 2, Host: "h", Since: time.Unix(0, 0).UTC(), Token: 3}))
	f.Add(EncodeRecord(Holder{Run: "1", PID: 2, Host: "h", Since: time.Unix(0, 0).UTC(), Cmd: "c", Foreign: true}))
	f.Add([]byte(""))
	f.Add([]byte("{\"run\":\"x\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		line, _, _ := strings.Cut(string(b), "\n")
		checkSameAsJSON(t, []byte(line))
		h, err := ParseRecord(b)
		if err != nil {
			return
		}
		if fast, ok := appendRecord(nil, h); ok {
			if want, _ := json.Marshal(h); string(fast) != string(want) {
				t.Fatalf("appendRecord(%+v) = %q, encoding/json writes %q", h, fast, want)
			}
		}
		h2, err := ParseRecord(EncodeRecord(h))
		if err != nil {
			t.Fatalf("re-encoded record does not parse: %v", err)
		}
		if !h2.Since.Equal(h.Since) {
			t.Fatalf("since changed: %v -> %v", h.Since, h2.Since)
		}
		h2.Since = h.Since
		if h2 != h {
			t.Fatalf("round trip changed %+v -> %+v", h, h2)
		}
	})
}
