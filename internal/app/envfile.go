package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CreateEnvFile creates the app's env file at path from the recipe's
// .env.sample, as `abra app new` does: DOMAIN and TYPE set to domain and
// the recipe's name, everything else as in the sample. It reports created
// = false, and changes nothing, when the file already exists: only an env
// file this run created is removed at teardown. The file appears
// atomically (O_EXCL on a temp name, then link), so a reader never sees
// half of it.
func CreateEnvFile(r Recipe, path, domain string) (created bool, err error) {
	if _, err := os.Lstat(path); err == nil {
		return false, nil
	}
	sample, err := os.ReadFile(filepath.Join(r.Dir, ".env.sample"))
	if err != nil {
		return false, inputErr("recipe %s: %v", r.Name, err)
	}
	data := withVars(sample, map[string]string{"DOMAIN": domain, "TYPE": r.Name})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ccci-env-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	// Link, not rename: it fails rather than replace a file that appeared
	// meanwhile (we hold the app lock, but a human may not).
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("create env file: %w", err)
	}
	return true, nil
}

// withVars sets each of vars in an env file's text: the first active
// assignment of a key is replaced, a missing key is appended.
func withVars(text []byte, vars map[string]string) []byte {
	var out bytes.Buffer
	done := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		s := strings.TrimPrefix(strings.TrimLeft(line, " \t"), "export ")
		if k, _, ok := strings.Cut(s, "="); ok && !strings.HasPrefix(s, "#") {
			k = strings.TrimSpace(k)
			if v, want := vars[k]; want && !done[k] {
				line = k + "=" + v
				done[k] = true
			}
		}
		out.WriteString(line + "\n")
	}
	for _, k := range []string{"TYPE", "DOMAIN"} {
		if v, want := vars[k]; want && !done[k] {
			fmt.Fprintf(&out, "%s=%s\n", k, v)
		}
	}
	return out.Bytes()
}
