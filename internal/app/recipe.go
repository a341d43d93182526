package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// ErrInput marks an error in what the caller gave (an unknown recipe, a
// compose file that does not parse, an env file missing a variable): the
// applet exits 2 for it.
var ErrInput = errors.New("invalid input")

// inputErr wraps err as ErrInput, keeping its message.
func inputErr(format string, a ...any) error {
	return &inputError{fmt.Errorf(format, a...)}
}

type inputError struct{ err error }

func (e *inputError) Error() string        { return e.err.Error() }
func (e *inputError) Unwrap() []error      { return []error{e.err, ErrInput} }
func (e *inputError) Is(target error) bool { return target == ErrInput }

// Recipe is a recipe found on disk: its name (abra's TYPE) and directory.
type Recipe struct {
	Name, Dir string
}

// FindRecipe resolves --recipe as abra would: a path (holding a "/" or
// starting with ".") is a recipe directory; anything else is a recipe name
// under <abraDir>/recipes. The directory must hold compose.yml.
func FindRecipe(abraDir, recipe string) (Recipe, error) {
	if recipe == "" {
		return Recipe{}, inputErr("no recipe: give --recipe DIR|NAME")
	}
	dir := recipe
	if !strings.Contains(recipe, "/") && !strings.HasPrefix(recipe, ".") {
		if err := names.StateName(recipe); err != nil {
			return Recipe{}, inputErr("recipe %q: not a recipe name or directory", recipe)
		}
		dir = filepath.Join(abraDir, "recipes", recipe)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Recipe{}, inputErr("recipe %s: %v", recipe, err)
	}
	fi, err := os.Stat(filepath.Join(abs, "compose.yml"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Recipe{}, inputErr("recipe %s: no %s", recipe, filepath.Join(abs, "compose.yml"))
	case err != nil:
		return Recipe{}, inputErr("recipe %s: %v", recipe, err)
	case !fi.Mode().IsRegular():
		return Recipe{}, inputErr("recipe %s: %s is not a file", recipe, filepath.Join(abs, "compose.yml"))
	}
	return Recipe{Name: filepath.Base(abs), Dir: abs}, nil
}

// FindRecipeFor resolves --recipe; without one, the recipe named in the
// app's existing env file (TYPE, or RECIPE in newer abra), as abra does.
// When neither gives a recipe, the error says why: no env file, an env
// file that does not parse, or one naming no recipe. getenv is the
// applet's environment, which the env file's $VARs may name.
func FindRecipeFor(abraDir, recipe, envFile string, getenv func(string) string) (Recipe, error) {
	if recipe == "" {
		env, err := compose.ReadEnvFile(envFile, getenv)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return Recipe{}, inputErr("no recipe: give --recipe DIR|NAME (no env file %s to take TYPE from)", envFile)
		case errors.Is(err, compose.ErrInput):
			return Recipe{}, inputErr("no recipe: give --recipe DIR|NAME (env file %v)", err)
		case err != nil:
			return Recipe{}, inputErr("no recipe: give --recipe DIR|NAME (%v)", err)
		}
		if recipe = RecipeOf(env); recipe == "" {
			return Recipe{}, inputErr("no recipe: give --recipe DIR|NAME (env file %s sets neither TYPE nor RECIPE)", envFile)
		}
	}
	return FindRecipe(abraDir, recipe)
}

// CheckSyntax parses every compose file the recipe would use (COMPOSE_FILE
// from its .env.sample) as YAML, without interpolating: it runs before the
// lock is taken, so a broken recipe fails at once instead of after a wait,
// and before an env file that may lack variables exists. Load, under the
// lock, checks the rest. getenv is as for FindRecipeFor.
func CheckSyntax(r Recipe, getenv func(string) string) error {
	sample, err := compose.ReadEnvFile(filepath.Join(r.Dir, ".env.sample"), getenv)
	if err != nil {
		return inputErr("recipe %s: %v", r.Name, err)
	}
	for _, path := range compose.Files(r.Dir, sample) {
		b, err := os.ReadFile(path)
		if err != nil {
			return inputErr("recipe %s: %v", r.Name, err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return inputErr("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	return nil
}

// AbraDir is abra's config dir, the one default every applet uses:
// $ABRA_DIR, else $HOME/.abra; neither set is an error.
func AbraDir(getenv func(string) string) (string, error) {
	if d := getenv("ABRA_DIR"); d != "" {
		return d, nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".abra"), nil
	}
	return "", errors.New("neither ABRA_DIR nor HOME is set")
}
