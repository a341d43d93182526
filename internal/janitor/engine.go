package janitor

import (
	"context"
	"errors"
	"fmt"
	"os"

	"git.coopcloud.tech/toolshed/ccci/internal/app"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// Engine is the Swarm of a real engine: one unfiltered Inventory, and
// app.Teardown — the deploy's teardown, shared, not copied.
func Engine(c *swarm.Client, opts swarm.TeardownOptions) Swarm { return engine{c, opts} }

type engine struct {
	c    *swarm.Client
	opts swarm.TeardownOptions
}

func (e engine) Inventory(ctx context.Context) (swarm.Inventory, error) {
	return e.c.Inventory(ctx, swarm.Filter{})
}

// Teardown hands app.Teardown the first env file (removed last, after the
// stack); env files of the same domain on other servers go after it.
func (e engine) Teardown(ctx context.Context, domain string, envFiles []string) (swarm.Report, error) {
	first := ""
	if len(envFiles) > 0 {
		first = envFiles[0]
	}
	rep, err := app.Teardown(ctx, e.c, domain, first, e.opts)
	if err != nil {
		return rep, err
	}
	for _, f := range envFiles[min(1, len(envFiles)):] {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("teardown %s: %v", domain, err)
		}
	}
	return rep, nil
}
