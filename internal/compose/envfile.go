// Package compose loads a Co-op Cloud recipe as abra and `docker stack
// deploy` do, without docker/cli's loader (whose package init every ccci
// applet would pay for).
//
// Env files are read as abra reads them (godotenv), abra.sh's export
// lines as abra reads them (without running the script), the compose
// files as docker's loader reads them (LoadConfig) into docker's own
// compose types, so that Render prints what `docker stack config` prints.
// Errors in the input wrap ErrInput and name the file and line or key. It
// does not talk to Docker: package swarm turns the config into swarm
// specs.
package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// EnvVar is one assignment of an env file: the line it starts on, and the
// modifiers of its trailing comment ("# length=128 charset=hex" gives
// {length: 128, charset: hex}), which abra reads for secrets.
type EnvVar struct {
	Key, Value string
	Line       int
	Modifiers  map[string]string
}

// ParseEnvFile reads an env file as abra does (godotenv 1.5): blank lines
// and # comments skipped; an `export ` prefix; KEY=VALUE or KEY: VALUE;
// names of letters, digits, _ and .; an unquoted value ends at the line's
// last " #" comment and is trimmed; a 'single-quoted' value is literal; a
// "double-quoted" one may span lines and takes \n and \r escapes (a \
// before any other character but $ is dropped); unquoted and
// double-quoted values expand $NAME and ${NAME} (NAME in [A-Z0-9_]) from
// the keys before them, then getenv (the caller's environment: the
// applet's, which under ccci-sh is the script's and not the process's;
// nil for none), else "" (\$ keeps a literal $). Order is kept; a later
// assignment of a key wins in Map.
func ParseEnvFile(r io.Reader, getenv func(string) string) ([]EnvVar, error) {
	return parseEnv(r, getenv)
}

// ReadEnvFile parses the env file at path into a map; errors name the path.
func ReadEnvFile(path string, getenv func(string) string) (map[string]string, error) {
	vars, err := ReadEnvVars(path, getenv)
	if err != nil {
		return nil, err
	}
	return Map(vars), nil
}

// ReadEnvVars parses the env file at path keeping order, lines and
// modifiers; errors name the path and line.
func ReadEnvVars(path string, getenv func(string) string) ([]EnvVar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars, err := ParseEnvFile(f, getenv)
	if err != nil {
		return nil, inputErrf("%s:%v", path, err)
	}
	return vars, nil
}

// Map turns assignments into a map, the last assignment of a key winning.
func Map(vars []EnvVar) map[string]string {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

func parseEnv(r io.Reader, getenv func(string) string) ([]EnvVar, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	src := string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
	var vars []EnvVar
	seen := map[string]string{}
	lookup := func(k string) string {
		if v, ok := seen[k]; ok {
			return v
		}
		if getenv == nil {
			return ""
		}
		return getenv(k)
	}
	pos := 0
	for {
		pos = statementStart(src, pos)
		if pos < 0 {
			break
		}
		line := 1 + strings.Count(src[:pos], "\n")
		key, at, err := envKey(src, pos)
		if err != nil {
			return nil, fmt.Errorf("%d: %v", line, err)
		}
		value, comment, next, err := envValue(src, at, lookup)
		if err != nil {
			return nil, fmt.Errorf("%d: %s: %v", line, key, err)
		}
		seen[key] = value
		vars = append(vars, EnvVar{Key: key, Value: value, Line: line, Modifiers: modifiers(comment)})
		pos = next
	}
	return vars, nil
}

// isEnvSpace is godotenv's isSpace: blanks, but not a newline.
func isEnvSpace(c byte) bool {
	switch c {
	case '\t', '\v', '\f', '\r', ' ':
		return true
	}
	return false
}

// statementStart skips blanks, newlines and comment lines from pos; -1 at
// the end.
func statementStart(src string, pos int) int {
	for pos < len(src) {
		switch c := src[pos]; {
		case isEnvSpace(c) || c == '\n':
			pos++
		case c == '#':
			nl := strings.IndexByte(src[pos:], '\n')
			if nl < 0 {
				return -1
			}
			pos += nl
		default:
			return pos
		}
	}
	return -1
}

// envKey reads `[export ]NAME` up to = or :, returning where the value
// starts.
func envKey(src string, pos int) (string, int, error) {
	if rest, ok := strings.CutPrefix(src[pos:], "export"); ok && rest != "" && isEnvSpace(rest[0]) {
		pos = len(src) - len(strings.TrimLeft(rest, "\t\v\f\r "))
	}
	for i := pos; i < len(src); i++ {
		c := src[i]
		switch {
		case isEnvSpace(c):
		case c == '=' || c == ':':
			key := strings.TrimRight(src[pos:i], "\t\v\f\r ")
			if key == "" {
				return "", 0, errors.New("no variable name before " + string(c))
			}
			j := i + 1
			for j < len(src) && isEnvSpace(src[j]) {
				j++
			}
			return key, j, nil
		case c == '_' || c == '.' || unicode.IsLetter(rune(c)) || unicode.IsNumber(rune(c)):
		default:
			return "", 0, fmt.Errorf("unexpected character %q in variable name %q (want KEY=VALUE)", c, abbrev(firstLine(src[pos:])))
		}
	}
	return "", 0, fmt.Errorf("%q: want KEY=VALUE", abbrev(firstLine(src[pos:])))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// envValue reads the value at pos and the comment after it; next is where
// the next statement may start.
func envValue(src string, pos int, lookup func(string) string) (value, comment string, next int, err error) {
	if pos >= len(src) {
		return "", "", pos, nil
	}
	q := src[pos]
	if q != '"' && q != '\'' {
		end := strings.IndexAny(src[pos:], "\n\r")
		if end < 0 {
			end = len(src) - pos
		}
		line := src[pos : pos+end]
		val := line
		for i := len(line) - 1; i > 0; i-- {
			if line[i] == '#' && isEnvSpace(line[i-1]) {
				val, comment = line[:i], line[i+1:]
				break
			}
		}
		return expandEnvVars(strings.Trim(val, "\t\v\f\r "), lookup), comment, pos + end, nil
	}
	for i := pos + 1; i < len(src); i++ {
		if src[i] != q || src[i-1] == '\\' {
			continue
		}
		value = strings.Trim(src[pos:i], string(q))
		if q == '"' {
			value = expandEnvVars(envUnescape(value), lookup)
		}
		next = i + 1
		rest := src[next:]
		rest = rest[:len(rest)-len(strings.TrimLeft(rest, "\t\v\f\r "))]
		if after := src[next+len(rest):]; strings.HasPrefix(after, "#") {
			comment = firstLine(after[1:])
		}
		return value, comment, next, nil
	}
	return "", "", 0, fmt.Errorf("unterminated quoted value %s", abbrev(firstLine(src[pos:])))
}

// envUnescape is godotenv's expandEscapes: \n and \r become newline and
// carriage return, then a \ before any character but $ is dropped.
func envUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			}
			b.WriteString(s[i : i+2])
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	s, b = b.String(), strings.Builder{}
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] != '$' {
			b.WriteByte(s[i+1])
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// expandEnvVars is godotenv's expandVariables, matching
// (\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}? : an escaped \$... loses its \, a
// name is replaced by its value, anything else stays.
func expandEnvVars(s string, lookup func(string) string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		start := i
		escaped := s[i] == '\\' && i+1 < len(s) && s[i+1] == '$'
		if escaped {
			i++
		}
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '(' {
			j++
		}
		if j < len(s) && s[j] == '{' {
			j++
		}
		n := j
		for n < len(s) && (s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9' || s[n] == '_') {
			n++
		}
		name := s[j:n]
		if n < len(s) && s[n] == '}' {
			n++
		}
		switch {
		case escaped:
			b.WriteString(s[start+1 : n])
		case name != "":
			b.WriteString(lookup(name))
		default:
			b.WriteString(s[start:n])
		}
		i = n
	}
	return b.String()
}

// modifiers parses a trailing comment's space-separated key=value words,
// as abra's godotenv fork does; nil when there are none.
func modifiers(comment string) map[string]string {
	var m map[string]string
	for _, w := range strings.Fields(comment) {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		}
	}
	return m
}

// ReadAbraSh returns the `export NAME=value` lines of a recipe's abra.sh
// as abra reads them (it never runs the script): a line that starts with
// export, blanks, then NAME=value where both start with word characters;
// the value is the rest of the line, verbatim. A missing file is an empty
// map. abra lets these values override the app's env file (MergeAbraSh).
func ReadAbraSh(path string) (map[string]string, error) {
	vars := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return vars, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !abraExport(line) {
			continue
		}
		// abra splits at "export " and takes the last part, so a tab after
		// export leaves "export\tNAME" as the name: nothing usable is set.
		def := line
		if i := strings.LastIndex(line, "export "); i >= 0 {
			def = line[i+len("export "):]
		}
		kv := strings.Split(def, "=")
		if len(kv) != 2 {
			return nil, inputErrf("%s:%d: cannot parse %q (abra wants export NAME=value)", path, n, abbrev(line))
		}
		vars[kv[0]] = kv[1]
	}
	return vars, sc.Err()
}

// abraExport matches abra's ^export\s+(\w+=\w+).
func abraExport(line string) bool {
	rest, ok := strings.CutPrefix(line, "export")
	if !ok || rest == "" || !unicode.IsSpace(rune(rest[0])) {
		return false
	}
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	name, val, ok := strings.Cut(rest, "=")
	return ok && name != "" && strings.IndexFunc(name, notWord) < 0 && val != "" && !notWord(rune(val[0]))
}

func notWord(r rune) bool {
	return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}

// MergeAbraSh returns env with abra.sh's exports laid over it, as abra
// does before it deploys: abra.sh wins over the env file.
func MergeAbraSh(env, abraSh map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(abraSh))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range abraSh {
		out[k] = v
	}
	return out
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
