// Package compose loads a Co-op Cloud recipe's compose files the way
// `docker stack deploy` and abra read them, without docker/cli's loader
// (whose package init every ccci applet would pay for).
//
// It guarantees: env files parse as abra and docker read them, with errors
// naming the line; every ${VAR} is either set, defaulted or an error naming
// the variable and the file:line (no silent empty strings, unlike compose);
// YAML errors name the file and line. It does not talk to Docker: package
// swarm turns a Project into swarm specs.
package compose

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// EnvVar is one assignment of an env file, with the line it came from.
type EnvVar struct {
	Key, Value string
	Line       int
}

// ParseEnvFile reads KEY=VALUE lines as abra's and docker's env files are
// read: blank lines and #-comments skipped, an `export ` prefix tolerated,
// values unquoted (trimmed, ` #` starts a comment), 'single-quoted'
// (literal) or "double-quoted" (\n, \t, \", \\ and \$ escapes). Order is
// kept; a later assignment of a key wins in Map.
func ParseEnvFile(r io.Reader) ([]EnvVar, error) {
	var vars []EnvVar
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		v, ok, err := parseEnvLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if ok {
			v.Line = n
			vars = append(vars, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

// ReadEnvFile parses the env file at path into a map; errors name the path.
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars, err := ParseEnvFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return Map(vars), nil
}

// Map turns assignments into a map, the last assignment of a key winning.
func Map(vars []EnvVar) map[string]string {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

func parseEnvLine(line string) (EnvVar, bool, error) {
	s := strings.TrimLeft(line, " \t")
	if s == "" || s[0] == '#' {
		return EnvVar{}, false, nil
	}
	if rest, ok := strings.CutPrefix(s, "export "); ok {
		s = strings.TrimLeft(rest, " \t")
	}
	key, val, ok := strings.Cut(s, "=")
	if !ok {
		return EnvVar{}, false, fmt.Errorf("%q: want KEY=VALUE", abbrev(s))
	}
	key = strings.TrimRight(key, " \t")
	if !validKey(key) {
		return EnvVar{}, false, fmt.Errorf("invalid variable name %q", abbrev(key))
	}
	val, err := parseEnvValue(strings.TrimLeft(val, " \t"))
	if err != nil {
		return EnvVar{}, false, fmt.Errorf("%s: %v", key, err)
	}
	return EnvVar{Key: key, Value: val}, true, nil
}

func parseEnvValue(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch q := v[0]; q {
	case '\'', '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == q:
				if err := trailing(v[i+1:]); err != nil {
					return "", err
				}
				return b.String(), nil
			case q == '"' && c == '\\' && i+1 < len(v):
				i++
				switch e := v[i]; e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case '"', '\\', '$':
					b.WriteByte(e)
				default:
					b.WriteByte('\\')
					b.WriteByte(e)
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated %c-quoted value", q)
	}
	// Unquoted: an inline comment needs whitespace before '#', so values
	// such as colours (#fff) and URLs with fragments survive.
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimRight(v, " \t"), nil
}

// trailing accepts only whitespace and a comment after a closing quote.
func trailing(s string) error {
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return nil
	}
	return fmt.Errorf("unexpected %q after closing quote", abbrev(s))
}

// validKey accepts shell-style names, plus '.' and '-' which docker's env
// files allow.
func validKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
