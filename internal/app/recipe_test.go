package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindRecipe(t *testing.T) {
	abra := t.TempDir()
	writeFiles(t, abra, map[string]string{
		"recipes/good/compose.yml":      "services: {}\n",
		"recipes/nocompose/.keep":       "",
		"recipes/dironly/compose.yml/x": "",
	})
	for _, tc := range []struct {
		recipe, wantName, wantErr string
	}{
		{"good", "good", ""},
		{abra + "/recipes/good", "good", ""},
		{"nosuch", "", "recipe nosuch: no " + abra + "/recipes/nosuch/compose.yml"},
		{"nocompose", "", "recipe nocompose: no "},
		{"dironly", "", "is not a file"},
		{"", "", "no recipe"},
		{"a b", "", `recipe "a b": not a recipe name or directory`},
	} {
		r, err := FindRecipe(abra, tc.recipe)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInput) {
				t.Errorf("FindRecipe(%q) = %v, want an ErrInput containing %q", tc.recipe, err, tc.wantErr)
			}
			continue
		}
		if err != nil || r.Name != tc.wantName {
			t.Errorf("FindRecipe(%q) = %+v, %v; want name %q", tc.recipe, r, err, tc.wantName)
		}
	}
}

func TestCreateEnvFile(t *testing.T) {
	for _, tc := range []struct {
		name, sample, want string
	}{
		{"replaces", "TYPE=x\nDOMAIN=x.example.com\nA=1\n", "TYPE=app\nDOMAIN=d.test\nA=1\n"},
		{"keeps comments", "# DOMAIN=no\nDOMAIN=x\n#TYPE=y\n", "# DOMAIN=no\nDOMAIN=d.test\n#TYPE=y\nTYPE=app\n"},
		{"appends", "A=1\n", "A=1\nTYPE=app\nDOMAIN=d.test\n"},
		{"export prefix", "export DOMAIN=x\n", "DOMAIN=d.test\nTYPE=app\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"app/.env.sample": tc.sample})
			path := filepath.Join(dir, "servers", "default", "d.test.env")
			r := Recipe{Name: "app", Dir: filepath.Join(dir, "app")}
			created, err := CreateEnvFile(r, path, "d.test")
			if err != nil || !created {
				t.Fatalf("CreateEnvFile = %v, %v", created, err)
			}
			b, _ := os.ReadFile(path)
			if string(b) != tc.want {
				t.Errorf("env file:\n%s\nwant:\n%s", b, tc.want)
			}
			// An existing env file is the user's: not created, not changed.
			os.WriteFile(path, []byte("MINE=1\n"), 0o644)
			created, err = CreateEnvFile(r, path, "d.test")
			b, _ = os.ReadFile(path)
			if err != nil || created || string(b) != "MINE=1\n" {
				t.Errorf("second CreateEnvFile = %v, %v, file %q; want false, nil, unchanged", created, err, b)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".ccci-env-*"))
			if len(left) > 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// CheckSyntax refuses a recipe whose compose file is not YAML, naming the
// file, before anything is interpolated; Resolve interpolates the app's env
// file, with DOMAIN from the app.
func TestCheckSyntaxAndResolve(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"ok/compose.yml":     "services:\n  app:\n    image: x\n    environment:\n      - D=${DOMAIN}\n      - V=${NEEDED}\n",
		"ok/.env.sample":     "TYPE=ok\n",
		"broken/compose.yml": "services:\n  app: [\n",
		"broken/.env.sample": "TYPE=broken\n",
		"ok.env":             "NEEDED=1\n",
	})
	ok, broken := Recipe{"ok", filepath.Join(dir, "ok")}, Recipe{"broken", filepath.Join(dir, "broken")}
	if err := CheckSyntax(ok, os.Getenv); err != nil {
		t.Errorf("CheckSyntax(ok, os.Getenv) = %v", err)
	}
	if err := CheckSyntax(broken, os.Getenv); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "broken/compose.yml") {
		t.Errorf("CheckSyntax(broken, os.Getenv) = %v, want an ErrInput naming the file", err)
	}
	inst := &Instance{Domain: "d.test", Recipe: ok, EnvFile: filepath.Join(dir, "ok.env")}
	var warnings []string
	r, err := Resolve(inst, "r1", nil, func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got := *r.App.Config.Services[0].Environment["D"]; got != "d.test" {
		t.Errorf("DOMAIN interpolated as %q, want d.test", got)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q for a recipe with every variable set", warnings)
	}
	// A variable set nowhere is "" with one warning naming it, as in
	// docker stack deploy, not an error.
	inst.EnvFile = filepath.Join(dir, "absent.env") // the sample, then: NEEDED unset
	r, err = Resolve(inst, "r1", nil, func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatalf("Resolve without NEEDED = %v", err)
	}
	if got := *r.App.Config.Services[0].Environment["V"]; got != "" || len(warnings) != 1 || !strings.Contains(warnings[0], "NEEDED") {
		t.Errorf("V = %q, warnings %q; want \"\" and one warning naming NEEDED", got, warnings)
	}
}
