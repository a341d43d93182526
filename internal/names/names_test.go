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
	for _, s := range []string{"example.org", "A.B", "../x", "a/b", "", "a.", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Domain(s)
		if err != nil {
			return
		}
		// Whatever passes is safe as a path component and is its own fold.
		if strings.ContainsAny(d, "/\x00") || d == "." || d == ".." || strings.HasPrefix(d, ".") {
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
		if strings.ContainsAny(s, "/\x00 '\"$`;&|<>\\\n") || s == "." || s == ".." || len(s) > 64 {
			t.Fatalf("RunID accepted %q", s)
		}
	})
}
