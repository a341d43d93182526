package compose

import (
	"strings"
	"testing"
)

// FuzzParseEnvFile: any input parses or errors, never panics; what parses
// has valid keys and, written back double-quoted, parses to the same map.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n", "# c\nexport B='x y' # z\n", `C="a\n\"b\""`, "D=1 #c\r\n", "=x", "E=\"open"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		vars, err := ParseEnvFile(strings.NewReader(in))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, v := range vars {
			if !validKey(v.Key) {
				t.Fatalf("invalid key %q accepted", v.Key)
			}
			if strings.ContainsAny(v.Value, "\n\r") {
				continue // only a double-quoted value holds these; skip round trip
			}
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`)
			b.WriteString(v.Key + `="` + r.Replace(v.Value) + "\"\n")
		}
		again, err := ParseEnvFile(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("round trip of %q: %v", b.String(), err)
		}
		want := map[string]string{}
		for _, v := range vars {
			if !strings.ContainsAny(v.Value, "\n\r") {
				want[v.Key] = v.Value
			} else {
				delete(want, v.Key)
			}
		}
		got := Map(again)
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("round trip %s: %q != %q", k, got[k], v)
			}
		}
	})
}

// FuzzInterpolate: never panics; text without '$' is returned unchanged;
// $$-escaping any text interpolates back to it.
func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{"$A", "${A:-d}", "${U:-${A}}", "$$", "${A", "x$", "${A:?m}", "${A+b}", "Host(`${A}`)"} {
		f.Add(s)
	}
	lookup := func(k string) (string, bool) {
		if k == "A" {
			return "a", true
		}
		if k == "E" {
			return "", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Interpolate(in, lookup)
		if !strings.Contains(in, "$") && (err != nil || out != in) {
			t.Fatalf("Interpolate(%q) = %q, %v; want it unchanged", in, out, err)
		}
		esc := strings.ReplaceAll(in, "$", "$$")
		if back, err := Interpolate(esc, lookup); err != nil || back != in {
			t.Fatalf("Interpolate(%q) = %q, %v; want %q", esc, back, err, in)
		}
	})
}
