package app

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"go.yaml.in/yaml/v3"
)

// What `ccci-deploy --render` prints (Render, the path a deploy takes) is
// what `docker stack config` printed for the same configuration of the
// recipe corpus (NAME.golden.yml, made by .ci/golden) plus abra's
// ExposeAllEnv, and nothing else: the app service's environment gains
// every variable of the app's env it does not set itself.
func TestRenderIsGoldenPlusExposeAllEnv(t *testing.T) {
	const corpus = "../../tests/testdata/recipes-corpus"
	goldens, err := filepath.Glob(filepath.Join(corpus, "*", "*.golden.yml"))
	if err != nil || len(goldens) < 8 {
		t.Fatalf("corpus: %d goldens, %v", len(goldens), err)
	}
	for _, golden := range goldens {
		dir, name := filepath.Dir(golden), strings.TrimSuffix(filepath.Base(golden), ".golden.yml")
		t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			envf := filepath.Join(dir, name+".env")
			env, err := compose.ReadEnvFile(envf, os.Getenv)
			if err != nil {
				t.Fatal(err)
			}
			// The golden's STACK_NAME came from the env file's DOMAIN.
			inst := &Instance{Domain: env["DOMAIN"], EnvFile: envf, Recipe: Recipe{Name: filepath.Base(dir), Dir: abs}}
			getenv := func(k string) string { // generate=false secrets' values
				if strings.HasPrefix(k, "CCCI_SECRET_") {
					return "inserted"
				}
				return ""
			}
			var out bytes.Buffer
			if err := Render(&out, inst, getenv, nil); err != nil {
				t.Fatalf("Render: %v", err)
			}
			r, err := Resolve(inst, "render", getenv, nil)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]any
			if err := yaml.Unmarshal(bytes.ReplaceAll(raw, []byte("@RECIPE@"), []byte(abs)), &want); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("the render is not YAML: %v\n%s", err, out.String())
			}
			if app, ok := want["services"].(map[string]any)["app"].(map[string]any); ok {
				envs, _ := app["environment"].(map[string]any)
				if envs == nil {
					envs = map[string]any{}
					app["environment"] = envs
				}
				for k, v := range r.Env {
					if _, set := envs[k]; !set {
						envs[k] = v
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				for _, sec := range []string{"version", "services", "networks", "volumes", "secrets", "configs"} {
					if !reflect.DeepEqual(got[sec], want[sec]) {
						t.Errorf("render's %s differs from the golden's plus ExposeAllEnv:\n got: %v\nwant: %v", sec, got[sec], want[sec])
					}
				}
				t.Errorf("render differs from %s plus ExposeAllEnv:\n%s", golden, out.String())
			}
		})
	}
}
