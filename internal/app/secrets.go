package app

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
)

// Charsets of generated secrets, by the `charset=` hint of their
// SECRET_<KEY>_VERSION line, a comma-separated list: "default" and
// "special" are abra's; "safe" (as in recipes' `charset=special,safe`)
// keeps only the punctuation that needs no quoting in a URL, a shell or
// an env file; "hex" is ccci's (for apps that want a hex key).
var charsets = map[string]string{
	"":             alnum,
	"default":      alnum,
	"safe":         alnum,
	"special":      alnum + "!@#$%^&*()-_=+[]{};:,.<>?",
	"safe,special": alnum + "-_.~", // the list sorted
	"hex":          "0123456789abcdef",
}

// charset returns the characters of a charset= hint, its list in any order.
func charset(hint string) (string, bool) {
	parts := strings.Split(hint, ",")
	slices.Sort(parts)
	parts = slices.Compact(parts)
	if parts[0] == "default" && len(parts) > 1 {
		parts = parts[1:]
	}
	set, ok := charsets[strings.Join(parts, ",")]
	return set, ok
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// DefaultSecretLength is the length of a secret whose env line gives no
// `length=` hint. abra generates a passphrase of words there; ccci
// generates this many alphanumerics instead (README, Limitations).
const DefaultSecretLength = 32

// maxSecretLength bounds a generated secret well inside swarm's 500 KB.
const maxSecretLength = 64 << 10

// SecretEnv names the environment variable that gives the value of a
// secret marked `generate=false`: CCCI_SECRET_ and its compose key in
// upper case, every character other than a letter or digit an underscore
// (db_password -> CCCI_SECRET_DB_PASSWORD). abra would wait for a human's
// `abra app secret insert`; a CI run takes it from its environment (a
// Drone secret), or fails before anything is created.
func SecretEnv(key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return "CCCI_SECRET_" + string(b)
}

// SecretValue returns the value of one secret as `abra app secret
// generate --all` makes it: Length characters (DefaultSecretLength without
// a hint) drawn uniformly from Charset with crypto/rand; for
// `generate=false`, the value of SecretEnv(key) from getenv. The value is
// never printed: errors name the secret and the variable, not the value.
func SecretValue(h compose.SecretHint, getenv func(string) string) ([]byte, error) {
	if !h.Generate {
		name := SecretEnv(h.Key)
		v := getenv(name)
		if v == "" {
			return nil, inputErr("secret %s: %s says generate=false and %s is not set (give the value there)", h.Key, h.EnvVar, name)
		}
		return []byte(v), nil
	}
	set, ok := charset(h.Charset)
	if !ok {
		return nil, inputErr("secret %s: %s: unknown charset=%s (want default, special, special,safe or hex)", h.Key, h.EnvVar, h.Charset)
	}
	n := h.Length
	switch {
	case n == 0:
		n = DefaultSecretLength
	case n > maxSecretLength:
		return nil, inputErr("secret %s: %s: length=%d is more than %d", h.Key, h.EnvVar, n, maxSecretLength)
	}
	return randomString(n, set)
}

// randomString draws n characters of set uniformly (rand.Int, not a byte
// modulo the set's size, which would favour its first characters).
func randomString(n int, set string) ([]byte, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(set)))
	for i := range out {
		j, err := rand.Int(rand.Reader, max)
		if err != nil {
			return nil, fmt.Errorf("generate a secret: %v", err)
		}
		out[i] = set[j.Int64()]
	}
	return out, nil
}
