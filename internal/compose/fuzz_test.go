package compose

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// FuzzParseEnvFile: any input parses or errors, never panics; keys hold
// no separator, quote or comment and are trimmed (godotenv lets blanks
// inside a name: "A B=1" sets "A B"); lines increase; a plain value written back
// double-quoted parses to itself.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n", "# c\nexport B='x y' # z\n", `C="a\n\"b\""`, "D=1 #c\r\n", "=x", "E=\"open", "F=$E${E}\\$E # length=3"} {
		f.Add(s)
	}
	none := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, in string) {
		vars, err := parseEnv(strings.NewReader(in), none)
		if err != nil {
			return
		}
		var b strings.Builder
		want := map[string]string{}
		line := 0
		for _, v := range vars {
			if v.Key == "" || strings.ContainsAny(v.Key, "=:#\n\"'") || strings.TrimSpace(v.Key) != v.Key {
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

// dockerSubstitute is docker/cli's template.Substitute as docker writes it,
// with its regexp: the oracle substitute must agree with.
func dockerSubstitute(template string, mapping func(string) (string, bool)) (string, error) {
	pattern := regexp.MustCompile(`\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*(?::?[-?][^}]*)?)|{(?P<braced>[_a-z][_a-z0-9]*(?::?[-?][^}]*)?)}|(?P<invalid>))`)
	var err error
	result := pattern.ReplaceAllStringFunc(template, func(sub string) string {
		m := pattern.FindStringSubmatch(sub)
		if m[1] != "" {
			return m[1]
		}
		s := m[2]
		if s == "" {
			s = m[3]
		}
		if s == "" {
			err = errors.New("invalid")
			return ""
		}
		type fn func(string) (string, bool, error)
		cut := func(sep string, f func(name, rest string) (string, error)) fn {
			return func(s string) (string, bool, error) {
				if !strings.Contains(s, sep) {
					return "", false, nil
				}
				name, rest, _ := strings.Cut(s, sep)
				v, err := f(name, rest)
				return v, true, err
			}
		}
		for _, f := range []fn{
			cut(":-", func(n, d string) (string, error) {
				if v, ok := mapping(n); ok && v != "" {
					return v, nil
				}
				return d, nil
			}),
			cut("-", func(n, d string) (string, error) {
				if v, ok := mapping(n); ok {
					return v, nil
				}
				return d, nil
			}),
			cut(":?", func(n, _ string) (string, error) {
				if v, ok := mapping(n); ok && v != "" {
					return v, nil
				}
				return "", errors.New("required")
			}),
			cut("?", func(n, _ string) (string, error) {
				if v, ok := mapping(n); ok {
					return v, nil
				}
				return "", errors.New("required")
			}),
		} {
			var v string
			var applied bool
			v, applied, err = f(s)
			if err != nil {
				return ""
			}
			if applied {
				return v
			}
		}
		v, _ := mapping(s)
		return v
	})
	return result, err
}

// FuzzSubstitute: substitute gives docker's regexp-based template's result
// and error for any input; text without '$' is unchanged; $$-escaping any
// text substitutes back to it.
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"$A", "${A:-d}", "${U:-${A}}", "$$", "${A", "x$", "${U:?m} $A", "${A+b}", "Host(`${A}`${U})", "$A-x}y", "${E-d}", "$a_1:?q"} {
		f.Add(s)
	}
	env := map[string]string{"A": "a", "E": "", "a_1": "lower"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Fuzz(func(t *testing.T, in string) {
		got, err := substitute(in, lookup, nil)
		want, werr := dockerSubstitute(in, lookup)
		if (err != nil) != (werr != nil) || err == nil && got != want {
			t.Fatalf("substitute(%q) = %q, %v; docker gives %q, %v", in, got, err, want, werr)
		}
		if !strings.Contains(in, "$") && (err != nil || got != in) {
			t.Fatalf("substitute(%q) = %q, %v; want it unchanged", in, got, err)
		}
		esc := strings.ReplaceAll(in, "$", "$$")
		if back, err := substitute(esc, lookup, nil); err != nil || back != in {
			t.Fatalf("substitute(%q) = %q, %v; want %q", esc, back, err, in)
		}
	})
}
