package compose

import (
	"errors"
	"strings"
)

// shlexSplit splits a command string into words as github.com/google/shlex
// (which docker's loader uses for command, entrypoint) does: whitespace
// separates, '...' is literal, "..." honours \ escapes, \ escapes outside
// quotes, and # at the start of a word comments out the rest of the line.
func shlexSplit(s string) ([]string, error) {
	const (
		start = iota
		word
		escaping
		escapingQuoted
		quotingEscaping
		quoting
		comment
	)
	words := []string{}
	var cur strings.Builder
	state, isWord := start, false
	emit := func() {
		if isWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		state, isWord = start, false
	}
	for _, r := range s {
		class := shlexClass(r)
		switch state {
		case start:
			switch class {
			case 'c':
				cur.WriteRune(r)
				state, isWord = word, true
			case '"':
				state, isWord = quotingEscaping, true
			case '\'':
				state, isWord = quoting, true
			case '\\':
				state, isWord = escaping, true
			case '#':
				state = comment
			}
		case word:
			switch class {
			case 'c', '#':
				cur.WriteRune(r)
			case ' ':
				emit()
			case '"':
				state = quotingEscaping
			case '\'':
				state = quoting
			case '\\':
				state = escaping
			}
		case escaping:
			cur.WriteRune(r)
			state = word
		case escapingQuoted:
			cur.WriteRune(r)
			state = quotingEscaping
		case quotingEscaping:
			switch class {
			case '"':
				state = word
			case '\\':
				state = escapingQuoted
			default:
				cur.WriteRune(r)
			}
		case quoting:
			if class == '\'' {
				state = word
			} else {
				cur.WriteRune(r)
			}
		case comment:
			if r == '\n' {
				emit()
			}
		}
	}
	switch state {
	case escaping, escapingQuoted:
		emit()
		return words, errors.New("EOF found after escape character")
	case quoting, quotingEscaping:
		emit()
		return words, errors.New("EOF found when expecting closing quote")
	}
	emit()
	return words, nil
}

// shlexClass classifies r as shlex's default classifier: ' ' for space,
// the rune itself for a quote, a backslash or #, else 'c' (a word rune).
func shlexClass(r rune) byte {
	switch {
	case r == ' ', r == '\t', r == '\r', r == '\n':
		return ' '
	case r == '"', r == '\'', r == '\\', r == '#':
		return byte(r)
	}
	return 'c'
}
