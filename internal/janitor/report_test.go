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
