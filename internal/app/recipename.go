package app

import "strings"

// RecipeOf is the recipe an app's env file names, as abra reads it:
// RECIPE (newer abra) or else TYPE (older), either of which may pin a
// version after a colon (RECIPE=gitea:3.2.0+1.21.5); the name is the
// part before the colon. "" when the env file names none.
func RecipeOf(env map[string]string) string {
	r := env["RECIPE"]
	if r == "" {
		r = env["TYPE"]
	}
	name, _, _ := strings.Cut(r, ":")
	return name
}
