// Package deploy is the ccci-deploy applet: one app's full cycle under its
// lock.
package deploy

import (
	"context"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-deploy [options] DOMAIN [-- TEST COMMAND...]

Example:
  ccci-deploy --driver stack --recipe ./myrecipe myrecipe.ci.example.org -- ./tests/run
`

// Main runs ccci-deploy.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	return applet.NotBuilt(env, "deploy", Usage, args)
}
