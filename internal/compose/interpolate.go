package compose

import (
	"fmt"
	"strings"
)

// MissingError is a variable that is unset and has no default. Compose
// substitutes "" with a warning; for CI an app deployed with an empty
// DOMAIN or secret version is worse than no deploy, so it is an error.
type MissingError struct{ Name string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("variable %s is not set and has no default (missing from the env file?)", e.Name)
}

// RequiredError is ${VAR:?message} or ${VAR?message} firing.
type RequiredError struct{ Name, Message string }

func (e *RequiredError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("required variable %s is not set", e.Name)
	}
	return fmt.Sprintf("required variable %s is not set: %s", e.Name, e.Message)
}

// Interpolate substitutes variables in s as compose does: $VAR, ${VAR},
// ${VAR:-default} (unset or empty), ${VAR-default} (unset),
// ${VAR:?err} / ${VAR?err} (required), ${VAR:+alt} / ${VAR+alt}, and $$
// for a literal $. Defaults may themselves hold variables. A lone $ or an
// unclosed ${ is an error, as in compose.
func Interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("invalid template %q: lone $ at the end (write $$ for a literal $)", abbrev(s))
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i += 2
		case n == '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", fmt.Errorf("invalid template %q: unclosed ${", abbrev(s))
			}
			v, err := braced(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end + 1
		case isNameStart(n):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			name := s[i+1 : j]
			v, ok := lookup(name)
			if !ok {
				return "", &MissingError{Name: name}
			}
			b.WriteString(v)
			i = j
		default:
			return "", fmt.Errorf("invalid template %q: $%c (write $$ for a literal $)", abbrev(s), n)
		}
	}
	return b.String(), nil
}

// closingBrace finds the } that closes a ${ opened before from, counting
// nested ${...} in defaults.
func closingBrace(s string, from int) int {
	depth := 1
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '$':
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// braced evaluates the inside of ${...}.
func braced(expr string, lookup func(string) (string, bool)) (string, error) {
	j := 0
	for j < len(expr) && isNameChar(expr[j]) {
		j++
	}
	name, rest := expr[:j], expr[j:]
	if name == "" || !isNameStart(name[0]) {
		return "", fmt.Errorf("invalid template ${%s}: bad variable name", abbrev(expr))
	}
	val, set := lookup(name)
	if rest == "" {
		if !set {
			return "", &MissingError{Name: name}
		}
		return val, nil
	}
	colon := rest[0] == ':'
	op := rest
	if colon {
		op = rest[1:]
	}
	if op == "" {
		return "", fmt.Errorf("invalid template ${%s}: want -, ?, + after :", abbrev(expr))
	}
	arg := op[1:]
	// With a colon, empty counts as unset.
	present := set && (!colon || val != "")
	switch op[0] {
	case '-':
		if present {
			return val, nil
		}
		return Interpolate(arg, lookup)
	case '?':
		if present {
			return val, nil
		}
		msg, err := Interpolate(arg, lookup)
		if err != nil {
			return "", err
		}
		return "", &RequiredError{Name: name, Message: msg}
	case '+':
		if present {
			return Interpolate(arg, lookup)
		}
		return "", nil
	}
	return "", fmt.Errorf("invalid template ${%s}: unknown operator %q", abbrev(expr), op[0])
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' }
