package compose

import "testing"

func TestInterpolate(t *testing.T) {
	env := map[string]string{"A": "a", "E": "", "STACK_NAME": "x_example_com", "V": "v1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"$A", "a", ""},
		{"${A}", "a", ""},
		{"x${A}y$A.z", "xaya.z", ""},
		{"$$A $${A}", "$A ${A}", ""},
		{"${STACK_NAME}_db_password_${V}", "x_example_com_db_password_v1", ""},
		{"${U:-def}", "def", ""},
		{"${E:-def}", "def", ""},
		{"${E-def}", "", ""},
		{"${U-def}", "def", ""},
		{"${A:-def}", "a", ""},
		{"${U:-${A}b}", "ab", ""},
		{"${U:-${U2:-deep}}", "deep", ""},
		{"${A:+alt}", "alt", ""},
		{"${E:+alt}", "", ""},
		{"${E+alt}", "alt", ""},
		{"${U+alt}", "", ""},
		{"${A:?must}", "a", ""},
		{"${E?must}", "", ""},
		{"Host(`${A}`)", "Host(`a`)", ""},
		{"$U", "", "variable U is not set and has no default (missing from the env file?)"},
		{"${U}", "", "variable U is not set and has no default (missing from the env file?)"},
		{"${U:?set U in the env file}", "", "required variable U is not set: set U in the env file"},
		{"${E:?}", "", "required variable E is not set"},
		{"${U?}", "", "required variable U is not set"},
		{"cost $", "", `invalid template "cost $": lone $ at the end (write $$ for a literal $)`},
		{"$1", "", `invalid template "$1": $1 (write $$ for a literal $)`},
		{"${A", "", `invalid template "${A": unclosed ${`},
		{"${}", "", "invalid template ${}: bad variable name"},
		{"${A:}", "", "invalid template ${A:}: want -, ?, + after :"},
		{"${A*x}", "", `invalid template ${A*x}: unknown operator '*'`},
	} {
		got, err := Interpolate(tc.in, lookup)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Interpolate(%q): err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
