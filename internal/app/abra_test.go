package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RecipeOf reads the recipe name as abra writes it into an env file:
// RECIPE before TYPE, a pinned version after the colon dropped.
func TestRecipeOf(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"TYPE": "gitea"}, "gitea"},
		{map[string]string{"TYPE": "gitea:3.2.0+1.21.5"}, "gitea"},
		{map[string]string{"RECIPE": "gitea:3.2.0+1.21.5", "TYPE": "other"}, "gitea"},
		{map[string]string{"RECIPE": "keycloak"}, "keycloak"},
		{map[string]string{"RECIPE": "", "TYPE": "wordpress:1.0.0"}, "wordpress"},
		{map[string]string{}, ""},
	} {
		if got := RecipeOf(c.env); got != c.want {
			t.Errorf("RecipeOf(%v) = %q, want %q", c.env, got, c.want)
		}
	}
}

// FindRecipeFor without --recipe finds the recipe a versioned RECIPE= (or
// TYPE=) names in the app's env file.
func TestFindRecipeForVersioned(t *testing.T) {
	abra := t.TempDir()
	dir := filepath.Join(abra, "recipes", "gitea")
	abraMust(t, os.MkdirAll(dir, 0o700))
	abraMust(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte("services: {}\n"), 0o600))
	for _, line := range []string{"RECIPE=gitea:3.2.0+1.21.5", "TYPE=gitea:3.2.0+1.21.5"} {
		env := filepath.Join(t.TempDir(), "a.env")
		abraMust(t, os.WriteFile(env, []byte(line+"\n"), 0o600))
		r, err := FindRecipeFor(abra, "", env, os.Getenv)
		if err != nil || r.Name != "gitea" || r.Dir != dir {
			t.Errorf("%s: FindRecipeFor = %+v, %v; want gitea at %s", line, r, err, dir)
		}
	}
}

// linkRecipe makes abra's $ABRA_DIR/recipes/<name> the given directory
// (a symlink, removed again by unlinkRecipe), leaves a recipe already
// there alone, and refuses another directory of the same name.
func TestLinkRecipe(t *testing.T) {
	abra, src := t.TempDir(), filepath.Join(t.TempDir(), "app")
	abraMust(t, os.MkdirAll(src, 0o700))
	a := &Instance{AbraDir: abra, Recipe: Recipe{Name: "app", Dir: src}}
	abraMust(t, a.linkRecipe())
	p := filepath.Join(abra, "recipes", "app")
	if got, err := os.Readlink(p); err != nil || got != src {
		t.Fatalf("after linkRecipe: %s -> %q, %v; want -> %s", p, got, err, src)
	}
	abraMust(t, a.linkRecipe()) // already there: fine
	abraMust(t, a.unlinkRecipe())
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Fatalf("after unlinkRecipe: %s still there (%v)", p, err)
	}

	// The recipe found under ABRA_DIR itself: nothing to link or remove.
	in := &Instance{AbraDir: abra, Recipe: Recipe{Name: "own", Dir: filepath.Join(abra, "recipes", "own")}}
	abraMust(t, os.MkdirAll(in.Recipe.Dir, 0o700))
	abraMust(t, in.linkRecipe())
	abraMust(t, in.unlinkRecipe())
	if fi, err := os.Lstat(in.Recipe.Dir); err != nil || !fi.IsDir() {
		t.Fatalf("own recipe dir touched: %v, %v", fi, err)
	}

	// Another directory of that name: an input error, and it stays.
	abraMust(t, os.MkdirAll(p, 0o700))
	if err := a.linkRecipe(); err == nil {
		t.Fatalf("linkRecipe over another recipe dir %s: no error", p)
	}
	abraMust(t, a.unlinkRecipe())
	if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
		t.Fatalf("unlinkRecipe removed a directory it did not make: %v, %v", fi, err)
	}
}

func abraMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FindRecipeFor without --recipe and without a recipe in the env file
// says which of the three it is: no env file, an env file that does not
// parse (its line named), an env file naming no recipe.
func TestFindRecipeForMissing(t *testing.T) {
	abra, dir := t.TempDir(), t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"none.env", "", "no env file " + filepath.Join(dir, "none.env") + " to take TYPE from"},
		{"bad.env", "TYPE=gitea\nnot valid\n", "env file " + filepath.Join(dir, "bad.env") + ":2: "},
		{"notype.env", "DOMAIN=x.example.org\n", "env file " + filepath.Join(dir, "notype.env") + " sets neither TYPE nor RECIPE"},
	} {
		env := filepath.Join(dir, tc.name)
		if tc.content != "" {
			abraMust(t, os.WriteFile(env, []byte(tc.content), 0o600))
		}
		_, err := FindRecipeFor(abra, "", env, os.Getenv)
		if err == nil || !errors.Is(err, ErrInput) ||
			!strings.HasPrefix(err.Error(), "no recipe: give --recipe DIR|NAME (") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: FindRecipeFor = %v; want an ErrInput naming %q", tc.name, err, tc.want)
		}
	}
}
