package compose

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}, ""},
		{"comments and blanks", "# c\n\n  # indented\nA=1\n", map[string]string{"A": "1"}, ""},
		{"inline comment", "A=1 # note\nB=#fff\nC=x#y\n", map[string]string{"A": "1", "B": "#fff", "C": "x#y"}, ""},
		{"export", "export A=1\n", map[string]string{"A": "1"}, ""},
		{"empty value", "A=\n", map[string]string{"A": ""}, ""},
		{"double quoted", `A="a # b\n\"q\" \$x"` + "\n", map[string]string{"A": "a # b\n\"q\" $x"}, ""},
		{"single quoted", `A='a\n ${B}' # c` + "\n", map[string]string{"A": `a\n ${B}`}, ""},
		{"abra extra domains", "EXTRA_DOMAINS=', `www.example.com`'\n", map[string]string{"EXTRA_DOMAINS": ", `www.example.com`"}, ""},
		{"crlf", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"last wins", "A=1\nA=2\n", map[string]string{"A": "2"}, ""},
		{"spaces around =", "A = 1\n", map[string]string{"A": "1"}, ""},
		{"no equals", "A=1\nJUSTKEY\n", nil, "line 2: \"JUSTKEY\": want KEY=VALUE"},
		{"bad key", "1A=x\n", nil, `line 1: invalid variable name "1A"`},
		{"unterminated", "A=1\nB=\"open\n", nil, "line 2: B: unterminated \"-quoted value"},
		{"junk after quote", "A='x' y\n", nil, `line 1: A: unexpected "y" after closing quote`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, err := ParseEnvFile(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := Map(vars); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseEnvFileLines(t *testing.T) {
	vars, err := ParseEnvFile(strings.NewReader("# c\nA=1\n\nB=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 2 || vars[0].Line != 2 || vars[1].Line != 4 {
		t.Errorf("lines: %+v", vars)
	}
}
