package compose

import (
	"strings"
	"testing"
)

// FuzzParseEnvFile: any input parses or errors, never panics; keys hold
// only name characters; lines increase; a plain value written back
// double-quoted parses to itself.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n", "# c\nexport B='x y' # z\n", `C="a\n\"b\""`, "D=1 #c\r\n", "=x", "E=\"open", "F=$E${E}\\$E # length=3"} {
		f.Add(s)
	}
	none := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, in string) {
		vars, err := parseEnv(strings.NewReader(in), none)
		if err != nil {
			return
		}
		var b strings.Builder
		want := map[string]string{}
		line := 0
		for _, v := range vars {
			if v.Key == "" || strings.ContainsAny(v.Key, "=:#\n\"' ") {
				t.Fatalf("invalid key %q accepted", v.Key)
			}
			if v.Line < line {
				t.Fatalf("line %d after %d", v.Line, line)
			}
			line = v.Line
			delete(want, v.Key)
			if strings.ContainsAny(v.Value, "\\\"$\n\r") {
				continue
			}
			want[v.Key] = v.Value
			b.WriteString(v.Key + `="` + v.Value + "\"\n")
		}
		again, err := parseEnv(strings.NewReader(b.String()), none)
		if err != nil {
			t.Fatalf("round trip of %q: %v", b.String(), err)
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
