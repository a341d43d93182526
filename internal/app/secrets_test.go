package app

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
)

// SecretValue follows the hints abra reads: the length and charset of a
// generated value, and for generate=false the value given in the
// environment, else an input error that names the variable and never the
// value.
func TestSecretValue(t *testing.T) {
	env := map[string]string{"CCCI_SECRET_SMTP_PASSWORD": "given-by-drone"}
	getenv := func(k string) string { return env[k] }
	hint := func(key string, length int, charset string, generate bool) compose.SecretHint {
		return compose.SecretHint{Key: key, EnvVar: "SECRET_" + strings.ToUpper(key) + "_VERSION",
			Length: length, Charset: charset, Generate: generate}
	}
	for _, tc := range []struct {
		name string
		h    compose.SecretHint
		want string // a regexp the whole value matches; "" for an error
		err  string
	}{
		{"no hint", hint("db_password", 0, "", true), `^[A-Za-z0-9]{32}$`, ""},
		{"length", hint("db_password", 128, "", true), `^[A-Za-z0-9]{128}$`, ""},
		{"hex", hint("key", 48, "hex", true), `^[0-9a-f]{48}$`, ""},
		{"special", hint("key", 200, "special", true), `^[A-Za-z0-9!@#$%^&*()\-_=+\[\]{};:,.<>?]{200}$`, ""},
		{"default", hint("key", 10, "default", true), `^[A-Za-z0-9]{10}$`, ""},
		{"special,safe", hint("key", 200, "special,safe", true), `^[A-Za-z0-9_.~-]{200}$`, ""},
		{"safe,special", hint("key", 200, "safe,special", true), `^[A-Za-z0-9_.~-]{200}$`, ""},
		{"special,bad", hint("key", 0, "special,emoji", true), "", "unknown charset=special,emoji"},
		{"given", hint("smtp_password", 0, "", false), `^given-by-drone$`, ""},
		{"not given", hint("api-key", 0, "", false), "", "CCCI_SECRET_API_KEY is not set"},
		{"bad charset", hint("key", 0, "emoji", true), "", "unknown charset=emoji"},
		{"too long", hint("key", 1<<20, "", true), "", "length=1048576 is more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := SecretValue(tc.h, getenv)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("SecretValue = %q, %v; want an input error with %q", v, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tc.want).Match(v) {
				t.Errorf("SecretValue = %q, want %s", v, tc.want)
			}
		})
	}
}

// Two generated values differ, and every character of the set turns up:
// the draw is random and covers the charset.
func TestSecretValueRandom(t *testing.T) {
	h := compose.SecretHint{Key: "k", Length: 4096, Charset: "hex", Generate: true}
	a, err := SecretValue(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SecretValue(h, nil)
	if string(a) == string(b) {
		t.Error("two generated secrets are equal")
	}
	for _, c := range "0123456789abcdef" {
		if !strings.ContainsRune(string(a), c) {
			t.Errorf("%q never drawn in 4096 hex characters", c)
		}
	}
}
