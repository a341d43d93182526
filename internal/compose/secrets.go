package compose

import (
	"slices"
	"strconv"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// SecretHint is what abra reads to generate one secret (abra's
// secret.ReadSecretsConfig): its compose key, the swarm name the compose
// file gives it, the version (the name's part after its last _), and the
// modifiers of the SECRET_<KEY>_VERSION line of the env file.
type SecretHint struct {
	Key     string // the compose secrets key, e.g. db_password
	Name    string // the swarm name, e.g. app_example_com_db_password_v1
	Version string // e.g. v1
	EnvVar  string // SECRET_DB_PASSWORD_VERSION
	// Length is the `length=` modifier; 0 when absent, and then abra
	// generates a passphrase of words, not a password.
	Length int
	// Charset is the `charset=` modifier as written ("" when absent; abra
	// knows "default" and "special", ccci adds "hex").
	Charset string
	// Generate is false for `generate=false`: the value must be inserted
	// by hand (abra secret insert), never generated.
	Generate bool
}

// SecretHints returns the hints for every secret of cfg that some service
// uses, sorted by key, as abra does before `abra app secret generate
// --all`: unused secrets are skipped, a name that ends in _ (an unset
// version) is an error naming the secret, a length that is not a number
// is an error naming the env var.
func SecretHints(cfg *composetypes.Config, vars []EnvVar) ([]SecretHint, error) {
	used := map[string]bool{}
	for _, s := range cfg.Services {
		for _, r := range s.Secrets {
			used[r.Source] = true
		}
	}
	mods := map[string]map[string]string{}
	for _, v := range vars {
		mods[v.Key] = v.Modifiers
	}
	var hints []SecretHint
	for key, sc := range cfg.Secrets {
		if !used[key] {
			continue
		}
		if strings.HasSuffix(sc.Name, "_") {
			return nil, inputErrf("secret %s: name %q has no version (is SECRET_%s_VERSION set?)", key, sc.Name, strings.ToUpper(key))
		}
		h := SecretHint{
			Key:      key,
			Name:     sc.Name,
			Version:  sc.Name[strings.LastIndex(sc.Name, "_")+1:],
			EnvVar:   "SECRET_" + strings.ToUpper(key) + "_VERSION",
			Generate: true,
		}
		m := mods[h.EnvVar]
		if m["generate"] == "false" {
			h.Generate = false
		}
		if l, ok := m["length"]; ok {
			n, err := strconv.Atoi(l)
			if err != nil || n < 0 {
				return nil, inputErrf("%s: length=%s is not a length", h.EnvVar, l)
			}
			h.Length = n
		}
		h.Charset = m["charset"]
		hints = append(hints, h)
	}
	slices.SortFunc(hints, func(a, b SecretHint) int { return strings.Compare(a.Key, b.Key) })
	return hints, nil
}
