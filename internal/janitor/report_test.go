package janitor

import "testing"

// A check's summary says "no leaks" only when nothing was skipped and
// nothing failed: otherwise leaks are possible, and it says so.
func TestSummaryClaim(t *testing.T) {
	for _, tc := range []struct {
		items []Item
		want  string
	}{
		{nil, "no leaks (live 0, warned 0, skipped 0, errors 0)"},
		{[]Item{{Action: Live}}, "no leaks (live 1, warned 0, skipped 0, errors 0)"},
		{[]Item{{Action: Skipped}}, "leaks not ruled out (live 0, warned 0, skipped 1, errors 0)"},
		{[]Item{{Action: Failed}}, "leaks not ruled out (live 0, warned 0, skipped 0, errors 1)"},
		{[]Item{{Action: Leak}, {Action: Failed}}, "1 leaks (live 0, warned 0, skipped 0, errors 1)"},
	} {
		r := &Report{Items: tc.items, Look: true}
		if got := r.Summary(); got != tc.want {
			t.Errorf("Summary(%v) = %q; want %q", tc.items, got, tc.want)
		}
	}
}

// Line names the app and the run in parentheses only when they say more
// than the name does, and the detail after a colon.
func TestLine(t *testing.T) {
	for _, tc := range []struct {
		it   Item
		want string
	}{
		{Item{Action: Reaped, Kind: "app", Name: "a.org", Domain: "a.org"}, "reaped app a.org"},
		{Item{Action: Reaped, Kind: "lockfile", Name: "/l/x.lock", Domain: "a.org", Detail: "no app"}, "reaped lockfile /l/x.lock (app a.org): no app"},
		{Item{Action: Reaped, Kind: "app", Name: "a.org", Domain: "a.org", Run: "7"}, "reaped app a.org (run 7)"},
		{Item{Action: Warned, Kind: "service", Name: "s", Domain: "a.org", Run: "7,8", Detail: "d"}, "warned service s (app a.org, run 7,8): d"},
	} {
		if got := Line(tc.it); got != tc.want {
			t.Errorf("Line(%+v) = %q; want %q", tc.it, got, tc.want)
		}
	}
}
