package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/container"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
)

// MaxFailedTasks is how many failed or rejected tasks make a service a
// crash loop: Converge gives up on it then rather than at the timeout.
const MaxFailedTasks = 3

// convergeTick is how often Converge looks when the engine says nothing:
// it wakes on the stack's container events (create, start, health) and
// looks again soon after each, as the task's state follows its
// container's with a short lag (afterEvent).
const convergeTick = 500 * time.Millisecond

// afterEvent are the delays of the looks after an engine event.
var afterEvent = []time.Duration{30 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond}

// watch returns a channel that receives (without blocking the reader)
// whenever the engine reports an event of a container of stack, until
// ctx ends. If the event stream cannot be had, the channel never
// receives: Converge still looks every convergeTick.
func (c *Client) watch(ctx context.Context, stack string) <-chan struct{} {
	wake := make(chan struct{}, 1)
	q := filters("type", "container", "label", LabelNamespace+"="+stack)
	resp, err := c.api.send(ctx, "GET", c.api.base+"/v"+c.api.version+"/events?"+q.Encode(), nil)
	if err != nil {
		return wake
	}
	go func() {
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var ev struct{ Action string }
			if dec.Decode(&ev) != nil {
				return
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	return wake
}

// Converge waits until every service of app has its replicas running and,
// where the container has a healthcheck, healthy. progress is told each
// change as `app: 0/1 → 1/1`. A service with MaxFailedTasks failed tasks,
// or whose tasks all ended with none left to run, fails at once with the
// service and the task error (TestSwarmCrashLoop); otherwise ctx bounds it.
func (c *Client) Converge(ctx context.Context, app *App, progress func(string)) error {
	if progress == nil {
		progress = func(string) {}
	}
	last := map[string]int{}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	wake := c.watch(wctx, app.Stack)
	var soon []time.Duration // the looks still due after the last event
	for {
		done := true
		var waiting []string
		for _, name := range app.ServiceNames() {
			st, err := c.serviceState(ctx, app.scoped(name))
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("converge: %v waiting for %s", ctx.Err(), name)
				}
				return fmt.Errorf("converge: %s: %v", name, err)
			}
			if st.fatal != "" {
				return fmt.Errorf("converge: service %s is not starting: %s", name, st.fatal)
			}
			prev, seen := last[name]
			switch {
			case !seen:
				progress(fmt.Sprintf("%s: %d/%d", name, st.ready, st.want))
			case prev != st.ready:
				progress(fmt.Sprintf("%s: %d/%d → %d/%d", name, prev, st.want, st.ready, st.want))
			}
			last[name] = st.ready
			if st.want == 0 || st.ready < st.want {
				done = false
				waiting = append(waiting, fmt.Sprintf("%s %d/%d%s", name, st.ready, st.want, st.detail))
			}
		}
		if done {
			return nil
		}
		wait := convergeTick
		if len(soon) > 0 {
			wait, soon = soon[0], soon[1:]
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("converge: %v waiting for %s", ctx.Err(), strings.Join(waiting, ", "))
		case <-wake:
			soon = afterEvent // and look now
		case <-timer.C:
		}
		timer.Stop()
	}
}

type serviceState struct {
	want, ready int
	detail      string // the latest not-ready task's state, for a timeout
	fatal       string // set when the service cannot converge
}

func (c *Client) serviceState(ctx context.Context, service string) (serviceState, error) {
	var st serviceState
	var svc swarm.Service
	p, err := object("service", service)
	if err == nil {
		err = c.api.call(ctx, "GET", p, nil, nil, &svc)
	}
	if err != nil {
		return st, err
	}
	var tasks []swarm.Task
	if err := c.api.call(ctx, "GET", "/tasks", filters("service", svc.ID), nil, &tasks); err != nil {
		return st, err
	}
	var failed, live int
	var lastErr *swarm.Task
	for i := range tasks {
		t := &tasks[i]
		switch t.Status.State {
		case swarm.TaskStateFailed, swarm.TaskStateRejected:
			failed++
			if lastErr == nil || t.Status.Timestamp.After(lastErr.Status.Timestamp) {
				lastErr = t
			}
		}
		if t.DesiredState != swarm.TaskStateRunning {
			continue
		}
		live++
		ok, detail := c.taskReady(ctx, t)
		if ok {
			st.ready++
		} else {
			st.detail = detail
		}
	}
	if m := svc.Spec.Mode; m.Replicated != nil && m.Replicated.Replicas != nil {
		st.want = int(*m.Replicated.Replicas)
	} else {
		st.want = live
	}
	switch {
	case failed >= MaxFailedTasks:
		st.fatal = fmt.Sprintf("%d tasks failed, last: %s", failed, taskErr(lastErr))
	case failed > 0 && live == 0 && st.want > 0 && len(tasks) == failed:
		st.fatal = fmt.Sprintf("its task failed and none is left to run: %s", taskErr(lastErr))
	}
	return st, nil
}

// taskReady: running, and healthy when the container has a healthcheck.
func (c *Client) taskReady(ctx context.Context, t *swarm.Task) (bool, string) {
	if t.Status.State != swarm.TaskStateRunning {
		return false, fmt.Sprintf(" (task %s)", t.Status.State)
	}
	cs := t.Status.ContainerStatus
	if cs == nil || cs.ContainerID == "" {
		return false, " (no container yet)"
	}
	var ins container.InspectResponse
	p, err := object("container", cs.ContainerID)
	if err == nil {
		err = c.api.call(ctx, "GET", p+"/json", nil, nil, &ins)
	}
	if err != nil {
		return false, fmt.Sprintf(" (inspect: %v)", err)
	}
	if s := ins.State; s != nil && s.Health != nil && s.Health.Status != container.Healthy {
		return false, fmt.Sprintf(" (health %s)", s.Health.Status)
	}
	return true, ""
}

func taskErr(t *swarm.Task) string {
	if t == nil {
		return "unknown"
	}
	s := string(t.Status.State)
	if t.Status.Err != "" {
		s += ": " + t.Status.Err
	} else if t.Status.Message != "" {
		s += ": " + t.Status.Message
	}
	return s
}
