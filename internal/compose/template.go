package compose

import (
	"fmt"
	"strings"
)

// substitute replaces variables in s exactly as docker/cli's
// compose/template.Substitute does (what `docker stack deploy` and abra
// use), without its regexp:
//
//	\$(?i:(\$)|([_a-z][_a-z0-9]*(?::?[-?][^}]*)?)|{([_a-z][_a-z0-9]*(?::?[-?][^}]*)?)}|())
//
// $$ is a literal $; $NAME and ${NAME} the value ("" when unset, reported
// to unset); ${NAME:-d} / ${NAME-d} a default when unset or empty / unset;
// ${NAME:?m} / ${NAME?m} an error when unset or empty / unset. Docker knows
// no ${NAME:+alt} or ${NAME+alt} (an invalid template) and does not nest:
// the default runs to the first } and is not substituted again. An unbraced
// $NAME also swallows a following -d, :-d, ?m or :?m up to a } or the end
// of s, as docker's pattern does.
//
// As in docker, a later substitution in s clears the error of an earlier
// one (docker keeps a single error variable across its replace callback),
// so only an error in the last substitution of a string is reported.
func substitute(s string, lookup func(string) (string, bool), unset func(string)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var err error
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		sub, end, ok := matchSubst(s, i)
		switch {
		case ok && sub == "$":
			b.WriteByte('$')
		case !ok:
			err = &templateError{Template: s}
		default:
			var v string
			v, err = substituteOne(sub, lookup, unset)
			if err == nil {
				b.WriteString(v)
			}
		}
		i = end
	}
	return b.String(), err
}

// matchSubst matches docker's pattern at s[i] (a '$'): it returns the
// escaped "$" or the named/braced substitution, and where the match ends;
// ok is false for the invalid alternative (the lone "$").
func matchSubst(s string, i int) (sub string, end int, ok bool) {
	j := i + 1
	if j < len(s) && s[j] == '$' {
		return "$", j + 1, true
	}
	if nameRune(s, j, true) > 0 {
		k := substEnd(s, j)
		return s[j:k], k, true
	}
	if j+1 < len(s) && s[j] == '{' && nameRune(s, j+1, true) > 0 {
		k := substEnd(s, j+1)
		if k < len(s) && s[k] == '}' {
			return s[j+1 : k], k + 1, true
		}
	}
	return "", j, false
}

// substEnd returns where [_a-z][_a-z0-9]*(?::?[-?][^}]*)? starting at j
// ends.
func substEnd(s string, j int) int {
	k := j + nameRune(s, j, true)
	for n := nameRune(s, k, false); n > 0; n = nameRune(s, k, false) {
		k += n
	}
	op := k
	if op < len(s) && s[op] == ':' {
		op++
	}
	if op < len(s) && (s[op] == '-' || s[op] == '?') {
		k = op + 1
		for k < len(s) && s[k] != '}' {
			k++
		}
	}
	return k
}

// nameRune returns the length of the name character at s[i], 0 if there
// is none: [_a-z] (or [_a-z0-9] past the start) under Go's (?i), which also
// folds the Kelvin sign to k and the long s to s.
func nameRune(s string, i int, start bool) int {
	switch {
	case i >= len(s):
		return 0
	case isNameStart(s[i]) || !start && s[i] >= '0' && s[i] <= '9':
		return 1
	case strings.HasPrefix(s[i:], "\u212a"):
		return len("\u212a")
	case strings.HasPrefix(s[i:], "\u017f"):
		return len("\u017f")
	}
	return 0
}

// substituteOne applies docker's substitute functions in docker's order:
// soft default, hard default, required non-empty, required.
func substituteOne(sub string, lookup func(string) (string, bool), unset func(string)) (string, error) {
	if name, def, ok := strings.Cut(sub, ":-"); ok {
		if v, set := lookup(name); set && v != "" {
			return v, nil
		}
		return def, nil
	}
	if name, def, ok := strings.Cut(sub, "-"); ok {
		if v, set := lookup(name); set {
			return v, nil
		}
		return def, nil
	}
	for _, sep := range []string{":?", "?"} {
		if name, msg, ok := strings.Cut(sub, sep); ok {
			v, set := lookup(name)
			if !set || sep == ":?" && v == "" {
				return "", &RequiredError{Name: name, Message: msg}
			}
			return v, nil
		}
	}
	v, set := lookup(sub)
	if !set && unset != nil {
		unset(sub)
	}
	return v, nil
}

// templateError is docker's InvalidTemplateError: a $ that starts no
// valid substitution.
type templateError struct{ Template string }

func (e *templateError) Error() string {
	return fmt.Sprintf("invalid interpolation format %q; you may need to escape any $ with another $", e.Template)
}

// RequiredError is ${VAR:?message} or ${VAR?message} firing.
type RequiredError struct{ Name, Message string }

func (e *RequiredError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("required variable %s is not set", e.Name)
	}
	return fmt.Sprintf("required variable %s is not set: %s", e.Name, e.Message)
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
