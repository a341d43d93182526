package swarm

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// secretLength is the length of generated secret values, abra's default.
const secretLength = 32

// CreateSecrets creates every external secret the project declares with a
// generated value, as `abra app secret generate --all` does, labelled as the
// app's. It returns the names created. A secret that already exists is an
// error naming it: a leftover of an earlier run is the janitor's to reap,
// not ours to reuse.
func (c *Client) CreateSecrets(ctx context.Context, app *App) ([]string, error) {
	var created []string
	for _, key := range slices.Sorted(maps.Keys(app.Project.Secrets)) {
		if !app.Project.Secrets[key].External {
			continue
		}
		name := app.SecretName(key)
		spec := swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: name, Labels: app.labels(stringMap(app.Project.Secrets[key].Labels))},
			Data:        []byte(generate(secretLength)),
		}
		if err := c.api.call(ctx, "POST", "/secrets/create", nil, spec, nil); err != nil {
			if isConflict(err) {
				return created, fmt.Errorf("create secret %s: already exists (a leftover? ccci-janitor reaps it)", name)
			}
			return created, fmt.Errorf("create secret %s: %v", name, err)
		}
		created = append(created, name)
	}
	return created, nil
}

// generate returns n random characters from [A-Za-z0-9].
func generate(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Deploy creates the app's networks, configs and services (secrets first
// with CreateSecrets), all labelled as the app's. Like docker stack deploy
// it does not wait: Converge does.
func (c *Client) Deploy(ctx context.Context, app *App) error {
	if err := c.createNetworks(ctx, app); err != nil {
		return err
	}
	refs := Refs{Secrets: map[string]string{}, Configs: map[string]string{}}
	for _, key := range slices.Sorted(maps.Keys(app.Project.Secrets)) {
		id, err := c.fileObject(ctx, app, key, app.Project.Secrets[key].External, app.Project.Secrets[key].File, true)
		if err != nil {
			return err
		}
		refs.Secrets[key] = id
	}
	for _, key := range slices.Sorted(maps.Keys(app.Project.Configs)) {
		id, err := c.fileObject(ctx, app, key, app.Project.Configs[key].External, app.Project.Configs[key].File, false)
		if err != nil {
			return err
		}
		refs.Configs[key] = id
	}
	for _, name := range app.Project.ServiceNames() {
		spec, err := app.ServiceSpec(name, refs)
		if err != nil {
			return err
		}
		if err := c.api.call(ctx, "POST", "/services/create", nil, forCreate(spec), nil); err != nil {
			return fmt.Errorf("create service %s: %v", spec.Name, err)
		}
	}
	return nil
}

// createNetworks creates `<stack>_default` when a service uses it and every
// declared network that is not external; external ones must exist.
func (c *Client) createNetworks(ctx context.Context, app *App) error {
	used := map[string]bool{}
	for _, s := range app.Project.Services {
		for _, n := range serviceNetworks(s) {
			used[n] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(used)) {
		n := app.Project.Networks[key]
		name := app.NetworkName(key)
		if n != nil && n.External {
			p, err := object("network", name)
			if err == nil {
				err = c.api.call(ctx, "GET", p, nil, nil, nil)
			}
			if err != nil {
				return fmt.Errorf("external network %s: %v", name, err)
			}
			continue
		}
		opts := network.CreateRequest{Name: name, Driver: "overlay", Attachable: true, Labels: app.labels()}
		if n != nil {
			if n.Driver != "" {
				opts.Driver = n.Driver
			}
			opts.Options, opts.Internal = n.DriverOpts, n.Internal
			opts.Labels = app.labels(stringMap(n.Labels))
		}
		if opts.Driver == "overlay" {
			opts.Scope = "swarm"
		}
		if err := c.api.call(ctx, "POST", "/networks/create", nil, opts, nil); err != nil {
			return fmt.Errorf("create network %s: %v", name, err)
		}
	}
	return nil
}

// fileObject returns the id of secret or config key: looked up by name
// when external, else created from its file.
func (c *Client) fileObject(ctx context.Context, app *App, key string, external bool, file string, secret bool) (string, error) {
	kind, name := "config", app.ConfigName(key)
	if secret {
		kind, name = "secret", app.SecretName(key)
	}
	if external {
		id, err := c.lookupFileObject(ctx, name, secret)
		if err != nil {
			return "", fmt.Errorf("external %s %s: %v", kind, name, err)
		}
		return id, nil
	}
	if file == "" {
		return "", fmt.Errorf("%s %s: neither external nor file", kind, key)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s %s: %v", kind, key, err)
	}
	ann := swarm.Annotations{Name: name, Labels: app.labels()}
	var r swarm.ConfigCreateResponse // {"Id": ...}, as secrets answer
	if secret {
		if err := c.api.call(ctx, "POST", "/secrets/create", nil, swarm.SecretSpec{Annotations: ann, Data: data}, &r); err != nil {
			return "", fmt.Errorf("create secret %s: %v", name, err)
		}
		return r.ID, nil
	}
	if err := c.api.call(ctx, "POST", "/configs/create", nil, swarm.ConfigSpec{Annotations: ann, Data: data}, &r); err != nil {
		return "", fmt.Errorf("create config %s: %v", name, err)
	}
	return r.ID, nil
}

func (c *Client) lookupFileObject(ctx context.Context, name string, secret bool) (string, error) {
	kind := "/configs"
	if secret {
		kind = "/secrets"
	}
	// Secrets and configs have the same shape: ID and Spec.Name suffice.
	var items []swarm.Config
	if err := c.api.call(ctx, "GET", kind, filters("name", name), nil, &items); err != nil {
		return "", err
	}
	for _, s := range items {
		if s.Spec.Name == name {
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("not found (abra app secret generate / CreateSecrets first)")
}
