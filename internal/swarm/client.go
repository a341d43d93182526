// Package swarm deploys a compose config to Docker Swarm through the Engine
// API, waits for it to converge, and tears it down leaving nothing behind.
//
// It names things as `docker stack deploy` does (stack = domain with . → _,
// services/networks/volumes/secrets/configs `<stack>_<name>`, label
// com.docker.stack.namespace=<stack>) and also labels everything it creates
// — services, their task containers, networks, volumes, secrets, configs —
// with ccci.run=<run id> and ccci.domain=<domain>, so the janitor can prove
// a leftover is a ccci run's (TestSwarmDeployTeardown).
//
// Teardown is the one function both ccci-deploy and ccci-janitor call: it
// removes in the order the engine needs and waits for each step, bounded;
// "not found" is success, "in use" is retried with backoff.
package swarm

import (
	"context"
	"fmt"
	"os"
	"slices"

	"git.coopcloud.tech/toolshed/ccci/internal/names"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// Labels ccci puts on everything it creates, next to docker's namespace.
const (
	LabelNamespace = "com.docker.stack.namespace"
	LabelRun       = "ccci.run"
	LabelDomain    = "ccci.domain"
	// LabelLockNamespace is the lock namespace the app was deployed under
	// (lock.Backend Namespace): a janitor reaps only its own.
	LabelLockNamespace = "ccci.lock-namespace"
)

// Client is a connection to the Docker Engine API.
type Client struct {
	api *engine
}

// New connects to the engine named by DOCKER_HOST (default the local
// socket), negotiating the API version down to the engine's unless
// DOCKER_API_VERSION fixes it, and pings it. getenv nil means os.Getenv.
func New(ctx context.Context, getenv func(string) string) (*Client, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	api, err := newEngine(getenv("DOCKER_HOST"), getenv("DOCKER_API_VERSION"))
	if err != nil {
		return nil, fmt.Errorf("docker client: %v", err)
	}
	if err := api.ping(ctx); err != nil {
		api.close()
		return nil, fmt.Errorf("docker ping %s: %v", api.host, err)
	}
	return &Client{api: api}, nil
}

// Close releases the connection.
func (c *Client) Close() error { c.api.close(); return nil }

// App is one deployment of a recipe: the domain, the stack it becomes, the
// run that owns it, and the loaded compose config (compose.LoadConfig).
type App struct {
	Domain, Stack, RunID string
	Config               *composetypes.Config
	// Labels are extra labels for everything created, after ccci's own.
	Labels map[string]string
	// LockNamespace, when set, labels everything (LabelLockNamespace).
	LockNamespace string
}

// NewApp validates domain and run id and names the stack as abra does.
func NewApp(domain, runID string, cfg *composetypes.Config) (*App, error) {
	d, err := names.Domain(domain)
	if err != nil {
		return nil, err
	}
	if err := names.RunID(runID); err != nil {
		return nil, err
	}
	return &App{Domain: d, Stack: names.StackName(d), RunID: runID, Config: cfg}, nil
}

// ServiceNames are the names of the app's services, sorted.
func (a *App) ServiceNames() []string {
	names := make([]string, 0, len(a.Config.Services))
	for _, s := range a.Config.Services {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// labels returns the labels every object of the app carries, plus extra.
func (a *App) labels(extra ...map[string]string) map[string]string {
	l := map[string]string{}
	for _, m := range extra {
		for k, v := range m {
			l[k] = v
		}
	}
	for k, v := range a.Labels {
		l[k] = v
	}
	l[LabelNamespace] = a.Stack
	l[LabelRun] = a.RunID
	l[LabelDomain] = a.Domain
	if a.LockNamespace != "" {
		l[LabelLockNamespace] = a.LockNamespace
	}
	return l
}

// scoped names an object of the stack, as docker stack deploy does.
func (a *App) scoped(name string) string { return a.Stack + "_" + name }
