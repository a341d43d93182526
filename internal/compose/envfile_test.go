package compose

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestParseEnvFile: env files parse to the values abra's godotenv gives,
// expanding from earlier keys, then the caller's env (here PROC only).
func TestParseEnvFile(t *testing.T) {
	proc := func(k string) string {
		if k == "PROC" {
			return "p"
		}
		return ""
	}
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}, ""},
		{"comments and blanks", "# c\n\n  # indented\nA=1\n", map[string]string{"A": "1"}, ""},
		{"inline comment", "A=1 # note\nB=#fff\nC=x#y\nD=a # b # c\n", map[string]string{"A": "1", "B": "#fff", "C": "x#y", "D": "a # b"}, ""},
		{"export", "export A=1\nexport\tB=2\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"yaml style", "A: 1\n", map[string]string{"A": "1"}, ""},
		{"empty value", "A=\nB=\"\"\n", map[string]string{"A": "", "B": ""}, ""},
		{"double quoted", `A="a # b\n\"q\" \$x \t"` + "\n", map[string]string{"A": "a # b\n\"q\" $x t"}, ""},
		{"double quoted multi-line", "A=\"one\ntwo\"\nB=3\n", map[string]string{"A": "one\ntwo", "B": "3"}, ""},
		{"single quoted", `A='a\n ${B}' # c` + "\n", map[string]string{"A": `a\n ${B}`}, ""},
		{"abra extra domains", "EXTRA_DOMAINS=', `www.example.com`'\n", map[string]string{"EXTRA_DOMAINS": ", `www.example.com`"}, ""},
		{"expand earlier key", "A=x\nB=$A-${A}\nC=\"${A}y\"\nD='$A'\n", map[string]string{"A": "x", "B": "x-x", "C": "xy", "D": "$A"}, ""},
		{"expand process env", "A=$PROC\nB=${NOPE}z\n", map[string]string{"A": "p", "B": "z"}, ""},
		{"expand lower case stays", "A=$lower\n", map[string]string{"A": "$lower"}, ""},
		{"escaped dollar", `A="\$PROC"` + "\n", map[string]string{"A": "$PROC"}, ""},
		{"compose file self reference", "COMPOSE_FILE=compose.yml\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\n", map[string]string{"COMPOSE_FILE": "compose.yml:compose.postgres.yml"}, ""},
		{"crlf", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"last wins", "A=1\nA=2\n", map[string]string{"A": "2"}, ""},
		{"spaces around =", "A = 1\n", map[string]string{"A": "1"}, ""},
		{"digits and dots", "1A.b=x\n", map[string]string{"1A.b": "x"}, ""},
		{"blank inside name", "A B=1\n", map[string]string{"A B": "1"}, ""},
		{"no equals", "A=1\nJUSTKEY\n", nil, "2: unexpected character '\\n' in variable name \"JUSTKEY\" (want KEY=VALUE)"},
		{"no equals at end", "A=1\nJUSTKEY", nil, "2: \"JUSTKEY\": want KEY=VALUE"},
		{"dash in key", "A-B=x\n", nil, "1: unexpected character '-' in variable name \"A-B=x\" (want KEY=VALUE)"},
		{"unterminated", "A=1\nB=\"open\n", nil, "2: B: unterminated quoted value \"open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, err := parseEnv(strings.NewReader(tc.in), proc)
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

// TestParseEnvFileLinesAndModifiers: each assignment keeps the line it
// starts on and its trailing comment's key=value modifiers.
func TestParseEnvFileLinesAndModifiers(t *testing.T) {
	in := "# c\nSECRET_DB_PASSWORD_VERSION=v1 # length=128 charset=hex\n\nA=\"x\ny\" # generate=false\nB='z' #no modifiers here\nC=1\n"
	vars, err := parseEnv(strings.NewReader(in), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := []EnvVar{
		{"SECRET_DB_PASSWORD_VERSION", "v1", 2, map[string]string{"length": "128", "charset": "hex"}},
		{"A", "x\ny", 4, map[string]string{"generate": "false"}},
		{"B", "z", 6, nil},
		{"C", "1", 7, nil},
	}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("got %+v\nwant %+v", vars, want)
	}
}

// TestReadAbraSh: only `export NAME=value` lines count, values verbatim;
// a missing abra.sh is empty; abra.sh wins over the env file.
func TestReadAbraSh(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"exports", "#!/bin/sh\nexport APP_ENTRYPOINT_VERSION=v1\nexport\tNGINX_CONF_VERSION=v12\nFOO=bar\n  export INDENTED=v1\nexport QUOTED=\"v1\"\n\nfn() {\n  echo $1\n}\n",
			map[string]string{"APP_ENTRYPOINT_VERSION": "v1", "export\tNGINX_CONF_VERSION": "v12"}, ""},
		{"rest of line verbatim", "export A=v1 # pinned\n", map[string]string{"A": "v1 # pinned"}, ""},
		{"two equals", "export A=b=c\n", nil, "abra.sh:1: cannot parse \"export A=b=c\" (abra wants export NAME=value)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "abra.sh")
			if err := os.WriteFile(p, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadAbraSh(p)
			if tc.err != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tc.err) || !errors.Is(err, ErrInput) {
					t.Fatalf("err = %v, want an ErrInput ending %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if got, err := ReadAbraSh(filepath.Join(dir, "missing.sh")); err != nil || len(got) != 0 {
		t.Errorf("missing abra.sh: %v, %v; want empty, nil", got, err)
	}
	merged := MergeAbraSh(map[string]string{"A": "env", "B": "env"}, map[string]string{"A": "abra"})
	if want := map[string]string{"A": "abra", "B": "env"}; !reflect.DeepEqual(merged, want) {
		t.Errorf("MergeAbraSh = %v, want %v", merged, want)
	}
}
