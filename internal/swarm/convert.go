package swarm

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

// Refs are the engine ids of the secrets and configs services refer to, by
// their compose keys.
type Refs struct {
	Secrets map[string]string
	Configs map[string]string
}

// NetworkName is the engine name of compose network key: `<stack>_default`
// for the implicit one, the declared name, or `<stack>_<key>`.
func (a *App) NetworkName(key string) string {
	if n := a.Project.Networks[key]; n != nil && n.Name != "" {
		return n.Name
	}
	if n := a.Project.Networks[key]; n != nil && n.External {
		return key
	}
	return a.scoped(key)
}

// VolumeName is the engine name of compose volume key.
func (a *App) VolumeName(key string) string {
	v := a.Project.Volumes[key]
	switch {
	case v != nil && v.Name != "":
		return v.Name
	case v != nil && v.External:
		return key
	}
	return a.scoped(key)
}

// SecretName is the engine name of compose secret key: its name: (abra's
// `<stack>_<key>_<version>`), the key itself when external without a name,
// else `<stack>_<key>`.
func (a *App) SecretName(key string) string { return a.fileName(a.Project.Secrets[key], key) }

// ConfigName is the engine name of compose config key.
func (a *App) ConfigName(key string) string { return a.fileName(a.Project.Configs[key], key) }

func (a *App) fileName(s *compose.Secret, key string) string {
	switch {
	case s != nil && s.Name != "":
		return s.Name
	case s != nil && s.External:
		return key
	}
	return a.scoped(key)
}

// serviceNetworks returns the compose network keys service s attaches to:
// its own, or "default".
func serviceNetworks(s *compose.Service) []string {
	if len(s.Networks) == 0 {
		return []string{"default"}
	}
	keys := make([]string, 0, len(s.Networks))
	for k := range s.Networks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ServiceSpec converts compose service name into the spec docker stack
// deploy would create, labelled as ccci's.
func (a *App) ServiceSpec(name string, refs Refs) (swarm.ServiceSpec, error) {
	s := a.Project.Services[name]
	if s == nil {
		return swarm.ServiceSpec{}, fmt.Errorf("no service %q", name)
	}
	cs := &swarm.ContainerSpec{
		Image:    s.Image,
		Command:  s.Entrypoint,
		Args:     s.Command,
		Hostname: s.Hostname,
		Env:      envList(s.Environment),
		Dir:      s.WorkingDir,
		User:     s.User,
		Labels:   a.labels(stringMap(s.Labels)),
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		cs.StopGracePeriod = &d
	}
	hc, err := healthConfig(s.Healthcheck)
	if err != nil {
		return swarm.ServiceSpec{}, fmt.Errorf("service %s: %v", name, err)
	}
	cs.Healthcheck = hc
	for _, v := range s.Volumes {
		cs.Mounts = append(cs.Mounts, a.mount(v))
	}
	for _, r := range s.Secrets {
		id, ok := refs.Secrets[r.Source]
		if !ok {
			return swarm.ServiceSpec{}, fmt.Errorf("service %s: secret %s has no id (not created?)", name, r.Source)
		}
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{
			SecretID: id, SecretName: a.SecretName(r.Source),
			File: fileTarget(r, r.Source),
		})
	}
	for _, r := range s.Configs {
		id, ok := refs.Configs[r.Source]
		if !ok {
			return swarm.ServiceSpec{}, fmt.Errorf("service %s: config %s has no id (not created?)", name, r.Source)
		}
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{
			ConfigID: id, ConfigName: a.ConfigName(r.Source),
			File: (*swarm.ConfigReferenceFileTarget)(fileTarget(r, "/"+r.Source)),
		})
	}
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: a.scoped(name), Labels: a.labels(stringMap(s.Deploy.Labels))},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Placement:     &swarm.Placement{Constraints: s.Deploy.Placement.Constraints},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionMode(s.Deploy.EndpointMode)},
	}
	for _, n := range serviceNetworks(s) {
		att := swarm.NetworkAttachmentConfig{Target: a.NetworkName(n), Aliases: []string{name}}
		if sn := s.Networks[n]; sn != nil {
			att.Aliases = append(att.Aliases, sn.Aliases...)
		}
		spec.TaskTemplate.Networks = append(spec.TaskTemplate.Networks, att)
	}
	if err := deployConfig(&spec, s.Deploy); err != nil {
		return swarm.ServiceSpec{}, fmt.Errorf("service %s: %v", name, err)
	}
	return spec, nil
}

func (a *App) mount(v compose.ServiceVolume) mount.Mount {
	m := mount.Mount{Type: mount.Type(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
	switch v.Type {
	case "volume":
		// Labels here are what the engine puts on the volume it creates
		// implicitly for the task: the only way a stack volume gets any.
		m.VolumeOptions = &mount.VolumeOptions{Labels: a.labels()}
		if v.Source != "" {
			m.Source = a.VolumeName(v.Source)
			if cv := a.Project.Volumes[v.Source]; cv != nil {
				m.VolumeOptions.Labels = a.labels(stringMap(cv.Labels))
				if cv.Driver != "" {
					m.VolumeOptions.DriverConfig = &mount.Driver{Name: cv.Driver, Options: cv.DriverOpts}
				}
			}
		}
	case "bind":
		if !filepath.IsAbs(v.Source) {
			m.Source = filepath.Join(a.Project.Dir, v.Source)
		}
	}
	return m
}

func fileTarget(r compose.FileRef, def string) *swarm.SecretReferenceFileTarget {
	t := &swarm.SecretReferenceFileTarget{Name: r.Target, UID: r.UID, GID: r.GID, Mode: 0o444}
	if t.Name == "" {
		t.Name = def
	}
	if t.UID == "" {
		t.UID = "0"
	}
	if t.GID == "" {
		t.GID = "0"
	}
	if r.Mode != nil {
		t.Mode = fileMode(*r.Mode)
	}
	return t
}

func healthConfig(h *compose.Healthcheck) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	hc := &container.HealthConfig{Test: h.Test}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "CMD", "CMD-SHELL", "NONE":
		default:
			// The string form: compose runs it through a shell.
			hc.Test = []string{"CMD-SHELL", strings.Join(h.Test, " ")}
		}
	}
	for _, d := range []struct {
		from *compose.Duration
		to   *time.Duration
	}{{h.Interval, &hc.Interval}, {h.Timeout, &hc.Timeout}, {h.StartPeriod, &hc.StartPeriod}} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc, nil
}

func deployConfig(spec *swarm.ServiceSpec, d compose.Deploy) error {
	switch d.Mode {
	case "", "replicated":
		n := uint64(1)
		if d.Replicas != nil {
			n = *d.Replicas
		}
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	case "global":
		spec.Mode.Global = &swarm.GlobalService{}
	default:
		return fmt.Errorf("unknown deploy mode %q", d.Mode)
	}
	if rp := d.RestartPolicy; rp != nil {
		cond := rp.Condition
		if cond == "no" {
			cond = "none"
		}
		spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{
			Condition: swarm.RestartPolicyCondition(cond), Delay: dur(rp.Delay),
			MaxAttempts: rp.MaxAttempts, Window: dur(rp.Window),
		}
	}
	spec.UpdateConfig = updateConfig(d.UpdateConfig)
	spec.RollbackConfig = updateConfig(d.RollbackConfig)
	res, err := resources(d.Resources)
	if err != nil {
		return err
	}
	spec.TaskTemplate.Resources = res
	return nil
}

func updateConfig(u *compose.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	c := &swarm.UpdateConfig{
		Parallelism: 1, FailureAction: swarm.FailureAction(u.FailureAction),
		MaxFailureRatio: u.MaxFailureRatio, Order: swarm.UpdateOrder(u.Order),
	}
	if u.Parallelism != nil {
		c.Parallelism = *u.Parallelism
	}
	if u.Delay != nil {
		c.Delay = time.Duration(*u.Delay)
	}
	if u.Monitor != nil {
		c.Monitor = time.Duration(*u.Monitor)
	}
	return c
}

func resources(r compose.Resources) (*swarm.ResourceRequirements, error) {
	if r.Limits == nil && r.Reservations == nil {
		return nil, nil
	}
	out := &swarm.ResourceRequirements{}
	if r.Limits != nil {
		cpu, mem, err := resource(r.Limits)
		if err != nil {
			return nil, fmt.Errorf("resources.limits: %v", err)
		}
		out.Limits = &swarm.Limit{NanoCPUs: cpu, MemoryBytes: mem}
	}
	if r.Reservations != nil {
		cpu, mem, err := resource(r.Reservations)
		if err != nil {
			return nil, fmt.Errorf("resources.reservations: %v", err)
		}
		out.Reservations = &swarm.Resources{NanoCPUs: cpu, MemoryBytes: mem}
	}
	return out, nil
}

func resource(r *compose.Resource) (nanoCPUs, memBytes int64, err error) {
	if r.CPUs != "" {
		f, err := strconv.ParseFloat(r.CPUs, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("invalid cpus %q", r.CPUs)
		}
		nanoCPUs = int64(f * 1e9)
	}
	if r.Memory != "" {
		if memBytes, err = units.RAMInBytes(r.Memory); err != nil {
			return 0, 0, fmt.Errorf("invalid memory %q", r.Memory)
		}
	}
	return nanoCPUs, memBytes, nil
}

func dur(d *compose.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	t := time.Duration(*d)
	return &t
}

func envList(m compose.Mapping) []string {
	var l []string
	for k, v := range m {
		if v != nil {
			l = append(l, k+"="+*v)
		}
	}
	sort.Strings(l)
	return l
}

func stringMap(m compose.Mapping) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}

func fileMode(m uint32) os.FileMode { return os.FileMode(m) }
