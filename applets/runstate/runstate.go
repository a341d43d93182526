// Package runstate is the ccci-runstate applet: run-keyed state and a
// per-run ABRA_DIR.
package runstate

import (
	"context"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-runstate init | path NAME | incr NAME | get NAME | ls [--json] | rm [--force]

Example:
  eval "$(ccci-runstate init)"
`

// Main runs ccci-runstate.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	return applet.NotBuilt(env, "runstate", Usage, args)
}
