// Package lock is the ccci-lock applet: it holds a domain's app lock while a
// command runs.
package lock

import (
	"context"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-lock [options] DOMAIN [--] COMMAND [ARG...]
       ccci-lock [options] DOMAIN -c 'SHELL COMMAND'
       ccci-lock --probe DOMAIN | --status [--json]

Holds DOMAIN's app lock ($CCCI_LOCK_DIR/cc-ci-app-DOMAIN.lock) while COMMAND runs.

Examples:
  ccci-lock example.org -- abra app deploy example.org
  ccci-lock -n example.org -- true || echo "a run is in flight"
`

// Main runs ccci-lock.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	return applet.NotBuilt(env, "lock", Usage, args)
}
