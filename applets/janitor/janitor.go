// Package janitor is the ccci-janitor applet: it reaps what dead runs left.
package janitor

import (
	"context"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-janitor [--dry-run] [--json] [--metrics FILE] [--check] [--stale DUR] [--match REGEX]

Example:
  ccci-janitor --check || ccci-janitor
`

// Main runs ccci-janitor.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	return applet.NotBuilt(env, "janitor", Usage, args)
}
