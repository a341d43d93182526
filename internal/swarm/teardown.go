package swarm

import (
	"context"
	"fmt"
	"strings"
	"time"

	"net/url"
	"strconv"
)

// TeardownOptions bound and report a Teardown.
type TeardownOptions struct {
	// Bound limits each step's waiting and "in use" retries (default 60s).
	Bound time.Duration
	// StopGrace, when positive, stops each task container gracefully for
	// that long before removing it; zero kills them at once (an app being
	// torn down in CI has nothing to save, and SIGTERM-ignoring apps would
	// otherwise cost their whole stop_grace_period).
	StopGrace time.Duration
	// Progress, when set, is told each step.
	Progress func(string)
	// Converged says this client deployed the stack and saw it converge:
	// every create was answered and every task runs, so nothing of the
	// stack can still appear, and one empty listing is believed without
	// SettleQuiet's wait. Ignored once a request of this client that
	// changes something went unanswered (a cancelled deploy): then the
	// engine may still be acting on it.
	Converged bool
}

// Failure is a resource teardown could not remove within the bound.
type Failure struct {
	Resource
	Err error
}

// Report says what Teardown removed and what it could not.
type Report struct {
	Removed []Resource
	Failed  []Failure
	// Retries counts attempts that failed and were tried again ("in use",
	// active endpoints): how often teardown had to wait for the engine.
	Retries int
	Took    time.Duration
}

// Teardown removes everything of stack, in the order the engine needs:
// services; then their task containers, waited for (removed by us rather
// than after docker's ~6 s reaper); networks; volumes; secrets and configs,
// labelled or `<stack>_`-named. "Not found" counts as removed; anything
// else (in use, active endpoints) is retried with backoff up to the bound,
// then reported. It ends by listing the stack again: whatever is still
// there is a Failure, so a nil error means nothing is left
// (TestSwarmDeployTeardown, TestSwarmVolumeInUse).
//
// Give it a context that outlives the run's cancellation (e.g.
// context.WithoutCancel plus a timeout): teardown is what cancellation
// needs done.
func (c *Client) Teardown(ctx context.Context, stack string, opts TeardownOptions) (Report, error) {
	start := time.Now()
	if opts.Bound <= 0 {
		opts.Bound = 60 * time.Second
	}
	say := func(format string, a ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, a...))
		}
	}
	var rep Report
	inv, err := c.Inventory(ctx, Filter{Stack: stack})
	if err != nil {
		return rep, fmt.Errorf("teardown %s: %v", stack, err)
	}
	st := inv[stack]
	if st == nil {
		st = &Stack{Name: stack}
	}
	remove := func(rs []Resource) {
		for _, r := range rs {
			tries := 0
			err := retry(ctx, opts.Bound, func() error { tries++; return c.remove(ctx, r) })
			rep.Retries += tries - 1
			if err != nil {
				rep.Failed = append(rep.Failed, Failure{r, err})
			} else {
				rep.Removed = append(rep.Removed, r)
			}
		}
	}
	say("removing %d services", len(st.Services))
	remove(st.Services)
	say("removing task containers")
	rep.Removed = append(rep.Removed, c.removeContainers(ctx, stack, opts)...)
	say("removing %d networks, %d volumes, %d secrets, %d configs",
		len(st.Networks), len(st.Volumes), len(st.Secrets), len(st.Configs))
	remove(st.Networks)
	remove(st.Volumes)
	remove(st.Secrets)
	remove(st.Configs)
	// Whatever is still listed is removed again until the bound: a removed
	// overlay network stays listed on the node until its last attachment is
	// released. What remains then is a failure, never a silent leak.
	quiet := SettleQuiet
	if opts.Converged && !c.api.unanswered.Load() {
		quiet = 0
	}
	left, err := c.settle(ctx, stack, opts.Bound, quiet)
	if err != nil {
		return rep, fmt.Errorf("teardown %s: %v", stack, err)
	}
	for _, r := range left {
		if !failed(rep.Failed, r) {
			rep.Failed = append(rep.Failed, Failure{r, fmt.Errorf("still present after teardown")})
		}
	}
	rep.Took = time.Since(start)
	if len(rep.Failed) > 0 {
		var l []string
		for _, f := range rep.Failed {
			l = append(l, fmt.Sprintf("%s: %v", f.Resource, f.Err))
		}
		return rep, fmt.Errorf("teardown %s: %d left: %s", stack, len(rep.Failed), strings.Join(l, "; "))
	}
	return rep, nil
}

// removeContainers removes the stack's containers until none is listed,
// within the bound: the swarm agent is removing them too, so "removal in
// progress" and "not found" are expected along the way.
func (c *Client) removeContainers(ctx context.Context, stack string, opts TeardownOptions) []Resource {
	var removed []Resource
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(ctx, opts.Bound)
	defer cancel()
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var left []Resource
		err := c.listContainers(ctx, func(r Resource) {
			if stackOf(r, stack) == stack {
				left = append(left, r)
			}
		})
		if err != nil || len(left) == 0 {
			return removed
		}
		for _, r := range left {
			if opts.StopGrace > 0 && !seen[r.ID] {
				c.stopContainer(ctx, r.ID, int(opts.StopGrace.Seconds()))
			}
			err := c.remove(ctx, r)
			if (err == nil || isNotFound(err)) && !seen[r.ID] {
				removed = append(removed, r)
			}
			seen[r.ID] = true
		}
		select {
		case <-ctx.Done():
			return removed
		case <-time.After(wait):
		}
	}
}

// remove removes one resource of any kind; containers forcibly, with
// their anonymous volumes.
func (c *Client) remove(ctx context.Context, r Resource) error {
	id := r.ID
	var q url.Values
	switch r.Kind {
	case "service", "network", "secret", "config":
	case "container":
		q = url.Values{"force": {"1"}, "v": {"1"}}
	case "volume":
		id = r.Name
	default:
		return fmt.Errorf("unknown kind %q", r.Kind)
	}
	p, err := object(r.Kind, id)
	if err != nil {
		return err
	}
	return c.api.call(ctx, "DELETE", p, q, nil, nil)
}

// stopContainer stops container id, giving it secs to exit.
func (c *Client) stopContainer(ctx context.Context, id string, secs int) error {
	p, err := object("container", id)
	if err != nil {
		return err
	}
	return c.api.call(ctx, "POST", p+"/stop", url.Values{"t": {strconv.Itoa(secs)}}, nil, nil)
}

// SettleQuiet is how long an empty listing must stay empty before settle
// believes it: the engine lists a swarm network whose creation was in
// flight when its creator was SIGKILLed up to about a second late, and a
// teardown that ended before then left it unreported
// (tests/concurrency TestDeployKills).
const SettleQuiet = 1500 * time.Millisecond

// settle lists the stack until nothing is left, twice, quiet apart (once
// when quiet is 0), or bound passes, removing again whatever is listed;
// it returns what is left.
func (c *Client) settle(ctx context.Context, stack string, bound, quiet time.Duration) ([]Resource, error) {
	end := time.Now().Add(bound)
	var emptySince time.Time
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		inv, err := c.Inventory(ctx, Filter{Stack: stack})
		if err != nil {
			return nil, err
		}
		st := inv[stack]
		if st == nil || len(st.All()) == 0 {
			if emptySince.IsZero() {
				emptySince = time.Now()
			}
			if time.Since(emptySince) >= quiet || ctx.Err() != nil {
				return nil, nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(quiet - time.Since(emptySince)):
			}
			continue
		}
		emptySince = time.Time{}
		if time.Now().After(end) || ctx.Err() != nil {
			return st.All(), nil
		}
		for _, r := range st.All() {
			c.remove(ctx, r)
		}
		time.Sleep(wait)
	}
}

// retry runs f until it succeeds or reports "not found", backing off from
// 50 ms to 1 s, for at most bound; then it returns f's last error.
func retry(ctx context.Context, bound time.Duration, f func() error) error {
	end := time.Now().Add(bound)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := f()
		if err == nil || isNotFound(err) {
			return nil
		}
		if time.Now().Add(wait).After(end) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%v (then %v)", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func failed(fs []Failure, r Resource) bool {
	for _, f := range fs {
		if f.ID == r.ID && f.Kind == r.Kind {
			return true
		}
	}
	return false
}
