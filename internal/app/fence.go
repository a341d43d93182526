package app

import (
	"context"
	"strconv"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// LabelFence is the label carrying the lock's fencing token on everything
// the stack driver creates.
const LabelFence = "ccci.fence"

// NewerFence returns the highest fencing token (LabelFence) stamped on the
// app's objects when it is higher than ours: another holder took the lock
// after ours was lost (an etcd lease that expired while we were paused or
// partitioned) and redeployed the app, so it is theirs now, and a stale
// holder must not touch it (tests/testdata/fence). A token of 0 (we never
// held the lock) fences nothing.
func NewerFence(ctx context.Context, c *swarm.Client, domain string, ours uint64) (uint64, error) {
	if ours == 0 {
		return 0, nil
	}
	stack := names.StackName(domain)
	inv, err := c.Inventory(ctx, swarm.Filter{Stack: stack})
	if err != nil {
		return 0, err
	}
	var max uint64
	if st := inv[stack]; st != nil {
		for _, r := range st.All() {
			if t, err := strconv.ParseUint(r.Labels[LabelFence], 10, 64); err == nil && t > max {
				max = t
			}
		}
	}
	if max > ours {
		return max, nil
	}
	return 0, nil
}
