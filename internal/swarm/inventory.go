package swarm

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/container"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/network"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/volume"
)

// Resource is one engine object: Kind is service, container, network,
// volume, secret or config.
type Resource struct {
	Kind, ID, Name string
	Labels         map[string]string
}

func (r Resource) String() string { return r.Kind + " " + r.Name }

// Stack is everything the engine holds for one stack.
type Stack struct {
	Name string
	// Runs are the ccci.run labels seen on the stack's objects; none means
	// no object proves the stack is a ccci run's.
	Runs                                                      []string
	Domain                                                    string // ccci.domain, when labelled
	Services, Containers, Networks, Volumes, Secrets, Configs []Resource
	// LockNamespaces are the LabelLockNamespace labels seen, sorted; none
	// on a stack deployed before there was one, or not by ccci.
	LockNamespaces []string
}

// All returns every resource of the stack, in teardown order.
func (s *Stack) All() []Resource {
	var all []Resource
	for _, l := range [][]Resource{s.Services, s.Containers, s.Networks, s.Volumes, s.Secrets, s.Configs} {
		all = append(all, l...)
	}
	return all
}

// Inventory is the engine's objects by stack name.
type Inventory map[string]*Stack

// Stacks returns the stack names, sorted.
func (inv Inventory) Stacks() []string { return slices.Sorted(maps.Keys(inv)) }

// Filter narrows Inventory. With Stack set, objects of that stack are found
// by label and, for unlabelled ones (abra's secrets), by the `<stack>_` name
// prefix; without, every object carrying a stack namespace or ccci label.
type Filter struct {
	Stack string
}

// Inventory lists every service, container, network, volume, secret and
// config that belongs to a stack (see Filter), grouped by stack.
func (c *Client) Inventory(ctx context.Context, f Filter) (Inventory, error) {
	inv := Inventory{}
	add := func(r Resource) {
		stack := stackOf(r, f.Stack)
		if stack == "" || f.Stack != "" && stack != f.Stack {
			return
		}
		s := inv[stack]
		if s == nil {
			s = &Stack{Name: stack}
			inv[stack] = s
		}
		if run := r.Labels[LabelRun]; run != "" && !contains(s.Runs, run) {
			s.Runs = append(s.Runs, run)
			sort.Strings(s.Runs)
		}
		if d := r.Labels[LabelDomain]; d != "" {
			s.Domain = d
		}
		if ns := r.Labels[LabelLockNamespace]; ns != "" && !contains(s.LockNamespaces, ns) {
			s.LockNamespaces = append(s.LockNamespaces, ns)
			sort.Strings(s.LockNamespaces)
		}
		p := map[string]*[]Resource{"service": &s.Services, "container": &s.Containers, "network": &s.Networks,
			"volume": &s.Volumes, "secret": &s.Secrets, "config": &s.Configs}[r.Kind]
		for i, have := range *p {
			if have.ID == r.ID {
				(*p)[i] = r // a network named by a service, now listed itself
				return
			}
		}
		*p = append(*p, r)
	}
	if err := c.list(ctx, add); err != nil {
		return nil, err
	}
	return inv, nil
}

// stackOf tells which stack r belongs to: its namespace label, its
// ccci.domain label, or (only when looking for one stack) its name prefix.
func stackOf(r Resource, want string) string {
	if s := r.Labels[LabelNamespace]; s != "" {
		return s
	}
	if d := r.Labels[LabelDomain]; d != "" {
		return names.StackName(d)
	}
	if s := r.Labels["com.docker.swarm.service.name"]; want != "" && strings.HasPrefix(s, want+"_") {
		return want
	}
	if want != "" && strings.HasPrefix(r.Name, want+"_") {
		return want
	}
	return ""
}

// list calls add for every object of the six kinds. The six requests
// are in flight together but services are listed before networks, and
// every object is added in one fixed order once all have answered.
func (c *Client) list(ctx context.Context, add func(Resource)) error {
	var (
		svcs []swarm.Service
		ctrs []container.Summary
		nets []network.Summary
		vols volume.ListResponse
		secs []swarm.Secret
		cfgs []swarm.Config
		errs [6]error // in the order above: the first is reported
		wg   sync.WaitGroup
	)
	get := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	get(func() {
		// Networks only once services have answered: a network a
		// service attaches to may not be listed yet (below), and is
		// found through the service, so the service must be seen
		// first.
		if errs[0] = c.api.call(ctx, "GET", "/services", nil, nil, &svcs); errs[0] == nil {
			errs[2] = c.api.call(ctx, "GET", "/networks", nil, nil, &nets)
		}
	})
	get(func() { errs[1] = c.api.call(ctx, "GET", "/containers/json", url.Values{"all": {"1"}}, nil, &ctrs) })
	get(func() { errs[3] = c.api.call(ctx, "GET", "/volumes", nil, nil, &vols) })
	get(func() { errs[4] = c.api.call(ctx, "GET", "/secrets", nil, nil, &secs) })
	get(func() { errs[5] = c.api.call(ctx, "GET", "/configs", nil, nil, &cfgs) })
	wg.Wait()
	for i, what := range []string{"services", "containers", "networks", "volumes", "secrets", "configs"} {
		if errs[i] != nil {
			return fmt.Errorf("list %s: %v", what, errs[i])
		}
	}
	// The networks a service attaches to, by ID: a swarm network can
	// exist, and be in use, before the node lists it, so a teardown
	// racing a deploy (a run SIGKILLed mid-deploy) would miss it and it
	// would appear after --check said "no leaks" (tests/concurrency
	// TestDeployKills). Only those the node does not list are the
	// service's: a listed one carries its own labels, and an external
	// network a service joins (traefik's proxy) is not the stack's to
	// remove (testdata/deploy/recipe.txtar).
	var attached []Resource
	for _, s := range svcs {
		add(Resource{"service", s.ID, s.Spec.Name, s.Spec.Labels})
		for _, n := range s.Spec.TaskTemplate.Networks {
			attached = append(attached, Resource{"network", n.Target, n.Target, s.Spec.Labels})
		}
	}
	addContainers(ctrs, add)
	listed := map[string]bool{}
	for _, n := range nets {
		add(Resource{"network", n.ID, n.Name, n.Labels})
		listed[n.ID], listed[n.Name] = true, true
	}
	for _, r := range attached {
		if !listed[r.ID] {
			add(r)
		}
	}
	for _, v := range vols.Volumes {
		add(Resource{"volume", v.Name, v.Name, v.Labels})
	}
	for _, s := range secs {
		add(Resource{"secret", s.ID, s.Spec.Name, s.Spec.Labels})
	}
	for _, s := range cfgs {
		add(Resource{"config", s.ID, s.Spec.Name, s.Spec.Labels})
	}
	return nil
}

func (c *Client) listContainers(ctx context.Context, add func(Resource)) error {
	var ctrs []container.Summary
	if err := c.api.call(ctx, "GET", "/containers/json", url.Values{"all": {"1"}}, nil, &ctrs); err != nil {
		return fmt.Errorf("list containers: %v", err)
	}
	addContainers(ctrs, add)
	return nil
}

// addContainers calls add for each container listed.
func addContainers(ctrs []container.Summary, add func(Resource)) {
	for _, k := range ctrs {
		name := k.ID
		if len(k.Names) > 0 {
			name = strings.TrimPrefix(k.Names[0], "/")
		}
		add(Resource{"container", k.ID, name, k.Labels})
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
