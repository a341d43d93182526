// Package sh is the ccci-sh applet: the embedded shell that runs scripts/.
package sh

import (
	"context"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-sh [SCRIPT [ARG...] | -c CMD]

Example:
  ccci-sh scripts/drone-step.sh ccci-deploy example.org
`

// Main runs ccci-sh.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	return applet.NotBuilt(env, "sh", Usage, args)
}
