package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every configuration of the recipe corpus that docker stack config
// accepts (a NAME.env with a NAME.golden.yml) resolves through Resolve,
// the path a deploy takes: env, abra.sh, overlays, secret values, and the
// conversion to swarm objects that docker's convert would make. What
// docker refused (NAME.golden.err), Resolve refuses too.
func TestCorpusResolves(t *testing.T) {
	const corpus = "../../tests/testdata/recipes-corpus"
	envs, err := filepath.Glob(filepath.Join(corpus, "*", "*.env"))
	if err != nil || len(envs) < 8 {
		t.Fatalf("corpus: %d configurations, %v", len(envs), err)
	}
	for _, envf := range envs {
		dir, name := filepath.Dir(envf), strings.TrimSuffix(filepath.Base(envf), ".env")
		t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			inst := &Instance{Domain: "corpus.ci.example.org", EnvFile: envf, Recipe: Recipe{Name: filepath.Base(dir), Dir: abs}}
			getenv := func(k string) string { // generate=false secrets' values
				if strings.HasPrefix(k, "CCCI_SECRET_") {
					return "inserted"
				}
				return ""
			}
			r, err := Resolve(inst, "corpus-1", getenv, func(w string) { t.Log("warning:", w) })
			if _, refused := os.Stat(filepath.Join(dir, name+".golden.err")); refused == nil {
				if err == nil {
					t.Fatal("Resolve accepted a configuration docker refused")
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve = %v", err)
			}
			if len(r.App.Config.Services) == 0 {
				t.Fatal("no services")
			}
		})
	}
}
