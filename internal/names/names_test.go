package names

import (
	"strings"
	"testing"
)

func TestDomain(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"example.org", "example.org", true},
		{"Foo.Example.ORG", "foo.example.org", true},
		{"a", "a", true},
		{"x-1.test", "x-1.test", true},
		{long63 + ".org", long63 + ".org", true},
		{strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "a", true}, // 253
		{strings.Repeat("a.", 126) + "ab", "", false},                            // 254
		{"", "", false},
		{"../x", "", false},
		{"a/b", "", false},
		{"example.org.", "", false},
		{".example.org", "", false},
		{"a..b", "", false},
		{"-a.org", "", false},
		{"a-.org", "", false},
		{long63 + "a.org", "", false},
		{"a_b.org", "", false},
		{"a b", "", false},
		{"a\x00b", "", false},
		{"é.org", "", false},
		{"\u212Aa.org", "", false}, // Kelvin sign: unicode.ToLower makes it "k"
		{"\u0130.org", "", false},  // "İ": unicode.ToLower makes it "i"
		{"\xff.org", "", false},
	} {
		got, err := Domain(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Domain(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "invalid domain") {
			t.Errorf("Domain(%q) error %q does not say what is invalid", tt.in, err)
		}
	}
}

func TestRunID(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"279", true},
		{"build-12.a_B", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"$(rm -rf /)", false},
		{"a;b", false},
		{"a b", false},
		{"'", false},
	} {
		if err := RunID(tt.in); (err == nil) != tt.ok {
			t.Errorf("RunID(%q) = %v; want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func FuzzDomain(f *testing.F) {
	for _, s := range []string{"example.org", "A.B", "../x", "a/b", "", "a.", strings.Repeat("a", 64), "\u212Aa.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Domain(s)
		if err != nil {
			return
		}
		// Whatever passes is made of [A-Za-z0-9.-] only, folds to d byte
		// for byte, and is safe as a path component.
		if len(d) != len(s) {
			t.Fatalf("Domain(%q) = %q: not a byte-for-byte fold", s, d)
		}
		for i := 0; i < len(s); i++ {
			c, want := s[i], s[i]
			if c >= 'A' && c <= 'Z' {
				want = c + 'a' - 'A'
			}
			if !(want >= 'a' && want <= 'z' || want >= '0' && want <= '9' || want == '-' || want == '.') || d[i] != want {
				t.Fatalf("Domain(%q) = %q: byte %d %q outside [A-Za-z0-9.-] or not folded", s, d, i, c)
			}
		}
		if d == "." || d == ".." || strings.HasPrefix(d, ".") {
			t.Fatalf("Domain(%q) = %q: unsafe as a path component", s, d)
		}
		if d2, err := Domain(d); err != nil || d2 != d {
			t.Fatalf("Domain(Domain(%q)) = %q, %v: not idempotent", s, d2, err)
		}
		if len(d) > 253 {
			t.Fatalf("Domain(%q) accepted %d characters", s, len(d))
		}
	})
}

func FuzzRunID(f *testing.F) {
	for _, s := range []string{"279", "..", ".", "a/b", "$(x)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if RunID(s) != nil {
			return
		}
		if s == "." || s == ".." || len(s) > 64 {
			t.Fatalf("RunID accepted %q", s)
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				t.Fatalf("RunID accepted %q: byte %d %q outside [A-Za-z0-9._-]", s, i, c)
			}
		}
	})
}
