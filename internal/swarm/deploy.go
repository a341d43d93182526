package swarm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/container"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/network"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
)

// CheckExternals fails, naming every one, when a network or config the
// app declares external does not exist, or a network is not swarm-scoped
// (a local bridge network of that name): before anything is created, as
// docker stack deploy's validateExternalNetworks checks, and like it
// without asking about the predefined networks (host, bridge, ...), which
// every node has. External secrets are not checked: CreateSecrets creates
// them, as abra does.
func (c *Client) CheckExternals(ctx context.Context, app *App) error {
	p, err := app.plan()
	if err != nil {
		return err
	}
	var missing []string
	for _, name := range p.externalNetworks {
		if !container.NetworkMode(name).IsUserDefined() {
			continue
		}
		var nw network.Summary
		path, err := object("network", name)
		if err == nil {
			err = c.api.call(ctx, "GET", path, nil, nil, &nw)
		}
		switch {
		case isNotFound(err):
			missing = append(missing, "external network "+name)
		case err != nil:
			return fmt.Errorf("external network %s: %v", name, err)
		case nw.Scope != "swarm":
			return &externalError{fmt.Sprintf("external network %s has scope %q, not \"swarm\" (a service cannot join it; create it with --driver overlay --scope swarm)", name, nw.Scope)}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(app.Config.Configs)) {
		cfg := app.Config.Configs[key]
		if !cfg.External.External {
			continue
		}
		if _, err := c.lookupFileObject(ctx, cfg.Name, false); isNotFound(err) {
			missing = append(missing, "external config "+cfg.Name)
		} else if err != nil {
			return fmt.Errorf("external config %s: %v", cfg.Name, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s %w (create it before deploying)", strings.Join(missing, ", "), ErrMissingExternal)
	}
	return nil
}

// ErrMissingExternal is CheckExternals's error: the input names something
// that is not on the swarm, or not as the swarm needs it.
var ErrMissingExternal = errors.New("not found on the swarm")

// externalError is an ErrMissingExternal with its own words.
type externalError struct{ msg string }

func (e *externalError) Error() string        { return e.msg }
func (e *externalError) Is(target error) bool { return target == ErrMissingExternal }

// CreateSecrets creates every secret the app declares external and some
// service uses, as `abra app secret generate --all` does (it skips the
// unused ones, as compose.SecretHints does), with the value value(key)
// returns, labelled as the app's. It returns the names created. A secret
// that already exists is an error naming it: a leftover of an earlier run
// is the janitor's to reap, not ours to reuse. Values are never printed.
func (c *Client) CreateSecrets(ctx context.Context, app *App, value func(key string) ([]byte, error)) ([]string, error) {
	used := map[string]bool{}
	for _, s := range app.Config.Services {
		for _, r := range s.Secrets {
			used[r.Source] = true
		}
	}
	var created []string
	for _, key := range slices.Sorted(maps.Keys(app.Config.Secrets)) {
		s := app.Config.Secrets[key]
		if !s.External.External || !used[key] {
			continue
		}
		data, err := value(key)
		if err != nil {
			return created, err
		}
		spec := swarm.SecretSpec{Annotations: swarm.Annotations{Name: s.Name, Labels: app.labels()}, Data: data}
		if err := c.api.call(ctx, "POST", "/secrets/create", nil, spec, nil); err != nil {
			if isConflict(err) {
				return created, fmt.Errorf("create secret %s: already exists (a leftover? ccci-janitor reaps it)", s.Name)
			}
			return created, fmt.Errorf("create secret %s: %v", s.Name, err)
		}
		created = append(created, s.Name)
	}
	return created, nil
}

// Deploy creates the app's networks, secrets, configs and services (its
// external secrets first with CreateSecrets), all labelled as the app's,
// as docker stack deploy does. Like it, it does not wait: Converge does.
func (c *Client) Deploy(ctx context.Context, app *App) error {
	p, err := app.plan()
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(p.networks)) {
		if err := c.api.call(ctx, "POST", "/networks/create", nil, p.networks[name], nil); err != nil {
			return fmt.Errorf("create network %s: %v", name, err)
		}
	}
	for _, spec := range p.secrets {
		if err := c.api.call(ctx, "POST", "/secrets/create", nil, spec, nil); err != nil {
			return fmt.Errorf("create secret %s: %v", spec.Name, err)
		}
	}
	for _, spec := range p.configs {
		if err := c.api.call(ctx, "POST", "/configs/create", nil, spec, nil); err != nil {
			return fmt.Errorf("create config %s: %v", spec.Name, err)
		}
	}
	ids := map[string]string{} // "secret name" or "config name" → id
	id := func(kind, name string) (string, error) {
		if v, ok := ids[kind+" "+name]; ok {
			return v, nil
		}
		v, err := c.lookupFileObject(ctx, name, kind == "secret")
		if err != nil {
			return "", fmt.Errorf("%s %s: %v", kind, name, err)
		}
		ids[kind+" "+name] = v
		return v, nil
	}
	for _, spec := range p.services {
		cs := spec.TaskTemplate.ContainerSpec
		for _, r := range cs.Secrets {
			if r.SecretID, err = id("secret", r.SecretName); err != nil {
				return fmt.Errorf("service %s: %v", spec.Name, err)
			}
		}
		for _, r := range cs.Configs {
			if r.ConfigID, err = id("config", r.ConfigName); err != nil {
				return fmt.Errorf("service %s: %v", spec.Name, err)
			}
		}
		if cred := cs.Privileges.CredentialSpec; cred != nil && cred.Config != "" {
			if cred.Config, err = credentialConfigID(cs.Configs, cred.Config, app); err != nil {
				return fmt.Errorf("service %s: %v", spec.Name, err)
			}
		}
		if err := c.api.call(ctx, "POST", "/services/create", nil, forCreate(spec), nil); err != nil {
			return fmt.Errorf("create service %s: %v", spec.Name, err)
		}
	}
	return nil
}

// credentialConfigID is the id of the config a credential spec names, by
// its name or its scoped name, as docker's convertCredentialSpec finds it.
func credentialConfigID(refs []*swarm.ConfigReference, name string, app *App) (string, error) {
	for _, want := range []string{name, app.scoped(name)} {
		for _, r := range refs {
			if r.ConfigName == want {
				return r.ConfigID, nil
			}
		}
	}
	return "", fmt.Errorf("invalid credential spec: spec specifies config %v, but no such config can be found", name)
}

// lookupFileObject returns the id of the secret or config named name; a
// missing one is an error isNotFound recognizes.
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
	return "", &APIError{Status: 404, Message: "not found: " + name}
}
