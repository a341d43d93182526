package compose

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const corpus = "../../tests/testdata/recipes-corpus"

// TestCorpusGolden: for every configuration of the recipe corpus (a NAME.env
// beside a recipe), the env resolved by ReadEnvVars and ReadAbraSh and the
// recipe loaded by LoadConfig render byte for byte as `docker stack config`
// printed them (NAME.golden.yml, made by .ci/golden from an env that bash,
// not ccci, resolved); where docker refused the configuration
// (NAME.golden.err), LoadConfig refuses it too with an ErrInput that names
// what docker named (dockerNames): the variable and its message, the
// unknown key, the two versions, the value's key path.
func TestCorpusGolden(t *testing.T) {
	envs, err := filepath.Glob(filepath.Join(corpus, "*", "*.env"))
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) < 8 {
		t.Fatalf("corpus has %d configurations, want at least 8", len(envs))
	}
	for _, envf := range envs {
		dir := filepath.Dir(envf)
		name := strings.TrimSuffix(filepath.Base(envf), ".env")
		t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			vars, err := ReadEnvVars(envf, os.Getenv)
			if err != nil {
				t.Fatal(err)
			}
			abraSh, err := ReadAbraSh(filepath.Join(dir, "abra.sh"))
			if err != nil {
				t.Fatal(err)
			}
			env := MergeAbraSh(Map(vars), abraSh)
			env["STACK_NAME"] = strings.ReplaceAll(env["DOMAIN"], ".", "_")
			cfg, lerr := LoadConfig(abs, env, func(w string) { t.Log("warning:", w) })
			base := filepath.Join(dir, name)
			if dockerErr, err := os.ReadFile(base + ".golden.err"); err == nil {
				if lerr == nil || !errors.Is(lerr, ErrInput) {
					t.Fatalf("LoadConfig = %v, want an ErrInput as docker refused it: %s", lerr, dockerErr)
				}
				names := dockerNames(string(dockerErr))
				if len(names) == 0 {
					t.Fatalf("TestCorpusGolden does not know what docker's refusal names: %s", dockerErr)
				}
				for _, n := range names {
					if !strings.Contains(lerr.Error(), n) {
						t.Errorf("LoadConfig error %q does not name %q, as docker does: %s", lerr, n, dockerErr)
					}
				}
				t.Logf("refused as docker does: %v", lerr)
				return
			}
			want, err := os.ReadFile(base + ".golden.yml")
			if err != nil {
				t.Fatalf("no golden for %s (run make golden): %v", envf, err)
			}
			if lerr != nil {
				t.Fatalf("LoadConfig: %v", lerr)
			}
			var buf bytes.Buffer
			if err := Render(&buf, cfg); err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(buf.String(), abs, "@RECIPE@")
			if got != string(want) {
				t.Errorf("Render differs from docker stack config (%s.golden.yml):\n%s", base, lineDiff(string(want), got))
			}
		})
	}
}

// dockerRefusals are the messages docker stack config refuses corpus
// configurations with; each submatch is what ccci's error must name too.
var dockerRefusals = []*regexp.Regexp{
	regexp.MustCompile(`required variable (\S+) is missing a value: (.*?)"; you may need`),
	regexp.MustCompile(`^\S+ Additional property (\S+) is not allowed`),
	regexp.MustCompile(`^version mismatched between two composefiles : (\S+) and (\S+)`),
	regexp.MustCompile(`^(version must be a string)`),
	regexp.MustCompile(`^(\S+) must be a string, number or null`),
}

// dockerNames returns what docker's refusal names (a variable and its
// message, a key, the versions), nil for a message it does not know.
func dockerNames(msg string) []string {
	for _, re := range dockerRefusals {
		if m := re.FindStringSubmatch(strings.TrimSpace(msg)); m != nil {
			return m[1:]
		}
	}
	return nil
}

// lineDiff shows the first differing lines of want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			lo, hi := max(0, i-3), min(max(len(w), len(g)), i+4)
			var b strings.Builder
			for j := lo; j < hi; j++ {
				mark := "  "
				if j == i {
					mark = "> "
				}
				var a, c string
				if j < len(w) {
					a = w[j]
				}
				if j < len(g) {
					c = g[j]
				}
				b.WriteString(mark + "docker: " + a + "\n" + mark + "ccci:   " + c + "\n")
			}
			return b.String()
		}
	}
	return "(identical lines; trailing bytes differ)"
}
