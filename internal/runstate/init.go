package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AbraBase returns the shared abra directory to link a run's abra dir to,
// given ABRA_DIR as the caller has it (abs; empty means $HOME/.abra,
// resolved by the caller). An ABRA_DIR that is already a run's abra dir
// (<runs>/<run>/abra, as after eval "$(ccci-runstate init)") is resolved to
// the base its servers link points to, so init never nests run dirs.
func AbraBase(runsDir, abraDir string) (string, error) {
	if !filepath.IsAbs(abraDir) {
		return "", fmt.Errorf("ABRA_DIR %q: not an absolute path", abraDir)
	}
	abraDir = filepath.Clean(abraDir)
	rd, err := filepath.Abs(runsDir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rd, abraDir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return abraDir, nil // not inside the runs dir
	}
	link := filepath.Join(abraDir, "servers")
	t, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("ABRA_DIR %s is inside the runs directory but not a run's abra dir: %w", abraDir, err)
	}
	return filepath.Dir(t), nil
}

// AbraDir is the run's own ABRA_DIR.
func (r *Run) AbraDir() string { return filepath.Join(r.Dir, abraName) }

// Init creates the run directory: mode 0700, its live-lock, and abra/ with
// servers and catalogue as symlinks to the shared ones under abraBase
// (created if missing) and a fresh empty recipes/. It is idempotent: on an
// initialised run it changes nothing, and it refuses a run initialised with
// another base.
func (r *Run) Init(abraBase string) error {
	if !filepath.IsAbs(abraBase) {
		return fmt.Errorf("abra base %q: not an absolute path", abraBase)
	}
	if err := r.ensure(); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, liveName), os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	abra := r.AbraDir()
	if err := mkdir0700(abra); err != nil {
		return err
	}
	for _, shared := range []string{"servers", "catalogue"} {
		target := filepath.Join(abraBase, shared)
		if err := os.MkdirAll(target, 0o700); err != nil {
			return err
		}
		if err := symlinkOnce(target, filepath.Join(abra, shared)); err != nil {
			return err
		}
	}
	return mkdir0700(filepath.Join(abra, "recipes"))
}

// symlinkOnce makes link point to target; an existing link to target is
// fine, an existing link elsewhere is an error (never silently repointed).
func symlinkOnce(target, link string) error {
	err := os.Symlink(target, link)
	if err == nil || !errors.Is(err, os.ErrExist) {
		return err
	}
	got, rerr := os.Readlink(link)
	if rerr != nil {
		return fmt.Errorf("symlink %s: exists and is not a symlink", link)
	}
	if got != target {
		return fmt.Errorf("symlink %s: already points to %s, not %s (run initialised with another ABRA_DIR)", link, got, target)
	}
	return nil
}

// Exports returns the environment init hands to the run, in print order:
// CCCI_RUN_ID, CCCI_RUNS_DIR, ABRA_DIR (the run's own) and
// CCCI_<NAME>_FILE for each of StateFiles.
func (r *Run) Exports() [][2]string {
	kv := [][2]string{
		{"CCCI_RUN_ID", r.ID},
		{"CCCI_RUNS_DIR", r.RunsDir},
		{"ABRA_DIR", r.AbraDir()},
	}
	for _, n := range StateFiles {
		p, _ := r.Path(n) // StateFiles are valid names
		kv = append(kv, [2]string{EnvName(n), p})
	}
	return kv
}

// EnvName is the variable naming state file name: deploy-count becomes
// CCCI_DEPLOY_COUNT_FILE.
func EnvName(name string) string {
	up := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z':
			return c - 'a' + 'A'
		case c == '-' || c == '.':
			return '_'
		}
		return c
	}, name)
	return "CCCI_" + up + "_FILE"
}

// Quote returns s single-quoted for any POSIX shell. A quote inside ends
// the quoting, comes double-quoted and reopens it: "'" becomes '"'"'. The
// usual backslash form does not do: mvdan.cc/sh, and so ccci-sh, keeps the
// backslash of \' in an assignment word (TestQuote, runstate/init.txtar).
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }
