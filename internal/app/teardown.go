// Package app is one Co-op Cloud app's life on the swarm, as abra lives it:
// its env file under the servers dir, its deploy, convergence and teardown.
// ccci-deploy runs the whole cycle; ccci-janitor reaps with the same
// Teardown, so a reap is exactly a deploy's teardown (same order, same
// bounds).
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// EnvFile is the app's env file, as abra keeps it:
// <abraDir>/servers/<server>/<domain>.env.
func EnvFile(abraDir, server, domain string) string {
	return filepath.Join(abraDir, "servers", server, domain+".env")
}

// Teardown removes everything the app has on the swarm (services, waiting
// for their tasks and containers; networks; volumes; secrets and configs),
// then its env file last, so that a teardown cut short is found again by
// the janitor, which looks for env files too. envFile may be "" when there
// is none to remove. A nil error means nothing of the app is left.
func Teardown(ctx context.Context, c *swarm.Client, domain, envFile string, opts swarm.TeardownOptions) (swarm.Report, error) {
	rep, err := c.Teardown(ctx, names.StackName(domain), opts)
	if err != nil || len(rep.Failed) > 0 {
		if err == nil {
			err = fmt.Errorf("teardown %s: %d resources left, first: %s: %v", domain, len(rep.Failed), rep.Failed[0].Resource, rep.Failed[0].Err)
		}
		return rep, err // keep the env file: the app is not gone
	}
	if envFile != "" {
		if err := os.Remove(envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("teardown %s: %v", domain, err)
		}
	}
	return rep, nil
}
