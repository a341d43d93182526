package janitor

import (
	"git.coopcloud.tech/toolshed/ccci/internal/atomicfile"

	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Line is an item as one human-readable line. It is built in one buffer:
// a pass over thousands of lockfiles logs a line each, under the pass's
// lock (.ci/bench-janitor).
func Line(it Item) string {
	var b strings.Builder
	b.Grow(len(it.Action) + len(it.Kind) + len(it.Name) + len(it.Domain) + len(it.Run) + len(it.Detail) + 16)
	b.WriteString(it.Action)
	b.WriteByte(' ')
	b.WriteString(it.Kind)
	b.WriteByte(' ')
	b.WriteString(it.Name)
	sep := " ("
	if it.Domain != "" && it.Domain != it.Name {
		b.WriteString(sep + "app ")
		b.WriteString(it.Domain)
		sep = ", "
	}
	if it.Run != "" {
		b.WriteString(sep + "run ")
		b.WriteString(it.Run)
		sep = ", "
	}
	if sep == ", " {
		b.WriteByte(')')
	}
	if it.Detail != "" {
		b.WriteString(": ")
		b.WriteString(it.Detail)
	}
	return b.String()
}

// Leaks is how many things check mode found to reap.
func (r *Report) Leaks() int { return r.Count(Leak) }

// Summary is the pass's last line. Foreign apps are counted after the
// live ones when there are any.
func (r *Report) Summary() string {
	live := fmt.Sprintf("live %d", r.Count(Live))
	if n := r.Count(Foreign); n > 0 {
		live += fmt.Sprintf(", foreign %d", n)
	}
	if r.Look {
		if n := r.Leaks(); n > 0 {
			return fmt.Sprintf("%d leaks (%s, warned %d, skipped %d, errors %d)", n, live, r.Count(Warned), r.Count(Skipped), r.Count(Failed))
		}
		// Something not looked at, or an error, leaves leaks possible:
		// never claim "no leaks" then (--check exits 1).
		verdict := "no leaks"
		if r.Count(Skipped) > 0 || r.Count(Failed) > 0 {
			verdict = "leaks not ruled out"
		}
		return fmt.Sprintf("%s (%s, warned %d, skipped %d, errors %d)", verdict, live, r.Count(Warned), r.Count(Skipped), r.Count(Failed))
	}
	return fmt.Sprintf("reaped %d, %s, warned %d, skipped %d, errors %d (took %s)",
		r.Count(Reaped), live, r.Count(Warned), r.Count(Skipped), r.Count(Failed), r.Took.Round(time.Millisecond))
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	items := r.Items
	if items == nil {
		items = []Item{}
	}
	v := struct {
		Mode    string         `json:"mode"`
		Items   []Item         `json:"items"`
		Counts  map[string]int `json:"counts"`
		Seconds float64        `json:"seconds"`
	}{map[bool]string{true: "check", false: "reap"}[r.Look], items, r.counts(), r.Took.Seconds()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (r *Report) counts() map[string]int {
	c := map[string]int{}
	for _, a := range []string{Reaped, Live, Warned, Skipped, Failed, Leak, Foreign} {
		c[a] = r.Count(a)
	}
	return c
}

// WriteMetrics writes the Prometheus textfile-collector format to path
// atomically: a temp file in the same dir, fsynced, renamed over path, so
// node_exporter never reads half a file.
func (r *Report) WriteMetrics(path string, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP ccci_janitor_items Things the last ccci-janitor pass decided, by action and kind.\n# TYPE ccci_janitor_items gauge\n")
	byKey := map[[2]string]int{}
	for _, it := range r.Items {
		byKey[[2]string{it.Action, it.Kind}]++
	}
	var keys [][2]string
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(&b, "ccci_janitor_items{action=%q,kind=%q} %d\n", k[0], k[1], byKey[k])
	}
	fmt.Fprintf(&b, "# HELP ccci_janitor_leaks Leaks found (check mode) or reaped (otherwise) by the last pass.\n# TYPE ccci_janitor_leaks gauge\n")
	n := r.Count(Reaped)
	if r.Look {
		n = r.Leaks()
	}
	fmt.Fprintf(&b, "ccci_janitor_leaks %d\n", n)
	fmt.Fprintf(&b, "# HELP ccci_janitor_errors Errors in the last pass.\n# TYPE ccci_janitor_errors gauge\nccci_janitor_errors %d\n", r.Count(Failed))
	fmt.Fprintf(&b, "# HELP ccci_janitor_duration_seconds How long the last pass took.\n# TYPE ccci_janitor_duration_seconds gauge\nccci_janitor_duration_seconds %g\n", r.Took.Seconds())
	fmt.Fprintf(&b, "# HELP ccci_janitor_last_run_timestamp_seconds When the last pass ended.\n# TYPE ccci_janitor_last_run_timestamp_seconds gauge\nccci_janitor_last_run_timestamp_seconds %d\n", now.Unix())
	return atomicfile.Write("", path, []byte(b.String()), 0o644)
}
