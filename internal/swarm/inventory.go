package swarm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"github.com/moby/moby/client"
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

// list calls add for every object of the six kinds.
func (c *Client) list(ctx context.Context, add func(Resource)) error {
	svcs, err := c.api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return fmt.Errorf("list services: %v", err)
	}
	for _, s := range svcs.Items {
		add(Resource{"service", s.ID, s.Spec.Name, s.Spec.Labels})
		// The networks a service attaches to, by ID: a swarm network can
		// exist, and be in use, before the node lists it, so a teardown
		// racing a deploy (a run SIGKILLed mid-deploy) would miss it and
		// it would appear after --check said "no leaks"
		// (tests/concurrency TestDeployKills).
		for _, n := range s.Spec.TaskTemplate.Networks {
			add(Resource{"network", n.Target, n.Target, s.Spec.Labels})
		}
	}
	if err := c.listContainers(ctx, add); err != nil {
		return err
	}
	nets, err := c.api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return fmt.Errorf("list networks: %v", err)
	}
	for _, n := range nets.Items {
		add(Resource{"network", n.ID, n.Name, n.Labels})
	}
	vols, err := c.api.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return fmt.Errorf("list volumes: %v", err)
	}
	for _, v := range vols.Items {
		add(Resource{"volume", v.Name, v.Name, v.Labels})
	}
	secs, err := c.api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return fmt.Errorf("list secrets: %v", err)
	}
	for _, s := range secs.Items {
		add(Resource{"secret", s.ID, s.Spec.Name, s.Spec.Labels})
	}
	cfgs, err := c.api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return fmt.Errorf("list configs: %v", err)
	}
	for _, s := range cfgs.Items {
		add(Resource{"config", s.ID, s.Spec.Name, s.Spec.Labels})
	}
	return nil
}

func (c *Client) listContainers(ctx context.Context, add func(Resource)) error {
	ctrs, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return fmt.Errorf("list containers: %v", err)
	}
	for _, k := range ctrs.Items {
		name := k.ID
		if len(k.Names) > 0 {
			name = strings.TrimPrefix(k.Names[0], "/")
		}
		add(Resource{"container", k.ID, name, k.Labels})
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
