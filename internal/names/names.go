// Package names validates the names that become paths — domains, run ids and
// state-file names — before any file is touched. Every path ccci builds from
// user input goes through here first (../shared/CONTRACT.md, "Environment").
package names

import (
	"fmt"
	"strings"
)

// Domain validates a DNS name and returns it case-folded: labels of 1–63
// characters from [a-z0-9-], not starting or ending with '-', joined by
// single dots, at most 253 characters in all, no leading or trailing dot.
// Only ASCII letters are folded: strings.ToLower would turn the Kelvin sign
// into "k" and "İ" into "i", and accept them (TestDomain).
func Domain(s string) (string, error) {
	d := asciiLower(s)
	if d == "" {
		return "", fmt.Errorf("invalid domain %q: empty", s)
	}
	if len(d) > 253 {
		return "", fmt.Errorf("invalid domain %q: %d characters, at most 253", abbrev(s), len(d))
	}
	for _, label := range strings.Split(d, ".") {
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("invalid domain %q: %v", abbrev(s), err)
		}
	}
	return d, nil
}

// asciiLower folds A-Z only, byte by byte; every other byte is kept, so
// checkLabel sees and rejects it.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("empty label (leading, trailing or double dot)")
	case len(l) > 63:
		return fmt.Errorf("label %q is %d characters, at most 63", abbrev(l), len(l))
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with '-'", l)
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has %q; want [a-z0-9-]", l, c)
		}
	}
	return nil
}

// RunID validates a run id: [A-Za-z0-9._-]{1,64}, and not "." or "..".
func RunID(s string) error {
	if err := token(s, 64); err != nil {
		return fmt.Errorf("invalid run id %q: %v", abbrev(s), err)
	}
	return nil
}

// StateName validates the name of a run-keyed state file; the same rules
// as a run id.
func StateName(s string) error {
	if err := token(s, 64); err != nil {
		return fmt.Errorf("invalid state name %q: %v", abbrev(s), err)
	}
	return nil
}

func token(s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case len(s) > max:
		return fmt.Errorf("%d characters, at most %d", len(s), max)
	case s == "." || s == "..":
		return fmt.Errorf("not a name")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("has %q; want [A-Za-z0-9._-]", rune(c))
		}
	}
	return nil
}

// abbrev keeps error messages readable for absurdly long input.
func abbrev(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// StackName is the swarm stack abra names an app's stack: the domain with
// dots replaced by underscores, cut to its first MaxStackName bytes.
func StackName(domain string) string {
	s := strings.ReplaceAll(domain, ".", "_")
	if len(s) > MaxStackName {
		s = s[:MaxStackName]
	}
	return s
}

// MaxStackName is abra's cap on the stack name it derives from a domain
// (config.MAX_SANITISED_APP_NAME_LENGTH): <stack>_<secret>_<version> must
// stay within swarm's 64-character limit on secret and config names.
const MaxStackName = 45
