package swarm

import (
	"fmt"
	"maps"
	"math/big"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/container"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/mount"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/network"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// This file is docker/cli's cli/compose/convert (v28) over the Engine API
// types: every key `docker stack deploy` converts, converted the same
// way, plus ccci's labels on everything. The keys it does not convert are
// named in a warning by the loader (compose.LoadConfig): those docker
// warns about and those it drops silently
// (TestEveryServiceKeyConvertedOrWarned). Not done: docker's default
// --resolve-image always, which pins each image to its registry digest.

// LabelImage is the label docker stack deploy puts the compose image on.
const LabelImage = "com.docker.stack.image"

// plan is everything a deploy of the app creates or needs, converted and
// checked without an engine: networks to create and the external ones
// that must exist, secrets and configs to create, and the services. The
// services refer to secrets and configs by name; Deploy fills in ids.
type plan struct {
	networks         map[string]network.CreateRequest // by engine name
	externalNetworks []string
	secrets          []swarm.SecretSpec
	configs          []swarm.ConfigSpec
	services         []swarm.ServiceSpec
}

// Check converts the whole app as a deploy would, reading the secret and
// config files, and returns the first thing docker stack deploy would
// refuse. It needs no engine.
func (a *App) Check() error {
	_, err := a.plan()
	return err
}

func (a *App) plan() (*plan, error) {
	cfg := a.Config
	p := &plan{networks: map[string]network.CreateRequest{}}
	used := map[string]bool{}
	for _, s := range cfg.Services {
		if len(s.Networks) == 0 {
			used["default"] = true
		}
		for n := range s.Networks {
			used[n] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(used)) {
		nw := cfg.Networks[key]
		if nw.External.External {
			p.externalNetworks = append(p.externalNetworks, nw.Name)
			continue
		}
		req := network.CreateRequest{
			Labels: a.labels(nw.Labels), Driver: nw.Driver, Options: nw.DriverOpts,
			Internal: nw.Internal, Attachable: nw.Attachable,
		}
		if nw.Ipam.Driver != "" || len(nw.Ipam.Config) > 0 {
			req.IPAM = &network.IPAM{Driver: nw.Ipam.Driver}
			for _, c := range nw.Ipam.Config {
				subnet, err := netip.ParsePrefix(c.Subnet)
				if err != nil {
					return nil, fmt.Errorf("network %s: ipam subnet %q: %v", key, c.Subnet, err)
				}
				req.IPAM.Config = append(req.IPAM.Config, network.IPAMConfig{Subnet: subnet})
			}
		}
		if req.Driver == "" {
			req.Driver = "overlay"
		}
		if req.Driver == "overlay" {
			req.Scope = "swarm"
		}
		req.Name = a.scoped(key)
		if nw.Name != "" {
			req.Name = nw.Name
		}
		p.networks[req.Name] = req
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Secrets)) {
		s := composetypes.FileObjectConfig(cfg.Secrets[key])
		if s.External.External {
			continue
		}
		ann, data, err := a.fileObject("secret", key, s)
		if err != nil {
			return nil, err
		}
		spec := swarm.SecretSpec{Annotations: ann, Data: data}
		if s.Driver != "" {
			spec.Driver = &swarm.Driver{Name: s.Driver, Options: s.DriverOpts}
		}
		if s.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: s.TemplateDriver}
		}
		p.secrets = append(p.secrets, spec)
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Configs)) {
		c := composetypes.FileObjectConfig(cfg.Configs[key])
		if c.External.External {
			continue
		}
		c.Driver = "" // configs have no driver: docker reads the file
		ann, data, err := a.fileObject("config", key, c)
		if err != nil {
			return nil, err
		}
		spec := swarm.ConfigSpec{Annotations: ann, Data: data}
		if c.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: c.TemplateDriver}
		}
		p.configs = append(p.configs, spec)
	}
	for _, s := range cfg.Services {
		spec, err := a.service(s)
		if err != nil {
			return nil, fmt.Errorf("service %s: %v", s.Name, err)
		}
		p.services = append(p.services, spec)
	}
	return p, nil
}

// fileObject is a secret's or config's name, labels and data: the file's
// content, or none when a driver provides it.
func (a *App) fileObject(kind, key string, obj composetypes.FileObjectConfig) (swarm.Annotations, []byte, error) {
	ann := swarm.Annotations{Name: a.scoped(key), Labels: a.labels(obj.Labels)}
	if obj.Name != "" {
		ann.Name = obj.Name
	}
	if obj.Driver != "" {
		return ann, []byte{}, nil
	}
	data, err := os.ReadFile(obj.File)
	if err != nil {
		return ann, nil, fmt.Errorf("%s %s: %v", kind, key, err)
	}
	return ann, data, nil
}

// service is docker's convert.Service.
func (a *App) service(s composetypes.ServiceConfig) (swarm.ServiceSpec, error) {
	mode, err := deployMode(s.Deploy.Mode, s.Deploy.Replicas)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	mounts := make([]mount.Mount, 0, len(s.Volumes))
	for _, v := range s.Volumes {
		m, err := a.mount(v)
		if err != nil {
			return swarm.ServiceSpec{}, err
		}
		mounts = append(mounts, m)
	}
	res, err := resources(s.Deploy.Resources)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	restart, err := restartPolicy(s.Restart, s.Deploy.RestartPolicy)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	health, err := healthcheck(s.HealthCheck)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	nets, err := a.serviceNetworks(s)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	secrets, err := a.secretRefs(s)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	configs, err := a.configRefs(s)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	var privileges swarm.Privileges
	if privileges.CredentialSpec, err = credentialSpec(s.CredentialSpec); err != nil {
		return swarm.ServiceSpec{}, err
	}
	var logDriver *swarm.Driver
	if s.Logging != nil {
		logDriver = &swarm.Driver{Name: s.Logging.Driver, Options: s.Logging.Options}
	}
	var dns *swarm.DNSConfig
	if s.DNS != nil || s.DNSSearch != nil {
		dns = &swarm.DNSConfig{Search: s.DNSSearch}
		for _, ns := range s.DNS {
			addr, err := netip.ParseAddr(ns)
			if err != nil {
				return swarm.ServiceSpec{}, fmt.Errorf("dns %q: not an IP address", ns)
			}
			dns.Nameservers = append(dns.Nameservers, addr)
		}
	}
	capAdd, capDrop := effectiveCaps(s.CapAdd, s.CapDrop)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: a.scoped(s.Name), Labels: a.labels(s.Deploy.Labels)},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           s.Image,
				Command:         s.Entrypoint,
				Args:            s.Command,
				Hostname:        s.Hostname,
				Hosts:           extraHosts(s.ExtraHosts),
				DNSConfig:       dns,
				Healthcheck:     health,
				Env:             environment(s.Environment),
				Labels:          a.labels(s.Labels),
				Dir:             s.WorkingDir,
				User:            s.User,
				Mounts:          mounts,
				StopGracePeriod: composetypes.ConvertDurationPtr(s.StopGracePeriod),
				StopSignal:      s.StopSignal,
				TTY:             s.Tty,
				OpenStdin:       s.StdinOpen,
				Secrets:         secrets,
				Configs:         configs,
				ReadOnly:        s.ReadOnly,
				Privileges:      &privileges,
				Isolation:       container.Isolation(s.Isolation),
				Init:            s.Init,
				Sysctls:         s.Sysctls,
				CapabilityAdd:   capAdd,
				CapabilityDrop:  capDrop,
				Ulimits:         ulimits(s.Ulimits),
				OomScoreAdj:     s.OomScoreAdj,
			},
			LogDriver:     logDriver,
			Resources:     res,
			RestartPolicy: restart,
			Placement: &swarm.Placement{
				Constraints: s.Deploy.Placement.Constraints,
				Preferences: placementPreferences(s.Deploy.Placement.Preferences),
				MaxReplicas: s.Deploy.Placement.MaxReplicas,
			},
			Networks: nets,
		},
		EndpointSpec:   endpointSpec(s.Deploy.EndpointMode, s.Ports),
		Mode:           mode,
		UpdateConfig:   updateConfig(s.Deploy.UpdateConfig),
		RollbackConfig: updateConfig(s.Deploy.RollbackConfig),
	}
	spec.Labels[LabelImage] = s.Image
	return spec, nil
}

func placementPreferences(prefs []composetypes.PlacementPreferences) []swarm.PlacementPreference {
	out := []swarm.PlacementPreference{}
	for _, p := range prefs {
		out = append(out, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: p.Spread}})
	}
	return out
}

// serviceNetworks attaches the service to its networks (or the stack's
// default one) with its name as an alias, sorted by target.
func (a *App) serviceNetworks(s composetypes.ServiceConfig) ([]swarm.NetworkAttachmentConfig, error) {
	networks := s.Networks
	if len(networks) == 0 {
		networks = map[string]*composetypes.ServiceNetworkConfig{"default": {}}
	}
	nets := []swarm.NetworkAttachmentConfig{}
	for key, sn := range networks {
		nw, ok := a.Config.Networks[key]
		if !ok && key != "default" {
			return nil, fmt.Errorf("undefined network %q", key)
		}
		att := swarm.NetworkAttachmentConfig{Target: a.scoped(key)}
		if nw.Name != "" {
			att.Target = nw.Name
		}
		if sn != nil {
			att.Aliases = append(att.Aliases, sn.Aliases...)
			att.DriverOpts = sn.DriverOpts
		}
		if container.NetworkMode(att.Target).IsUserDefined() {
			att.Aliases = append(att.Aliases, s.Name)
		}
		nets = append(nets, att)
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Target < nets[j].Target })
	return nets, nil
}

// fileTarget is docker's convertFileObject: the engine name of the secret
// or config a service refers to, and where it appears in the container.
func (a *App) fileTarget(ref composetypes.FileReferenceConfig, obj composetypes.FileObjectConfig) (string, swarm.SecretReferenceFileTarget) {
	name := a.scoped(ref.Source)
	if obj.Name != "" {
		name = obj.Name
	}
	t := swarm.SecretReferenceFileTarget{Name: ref.Target, UID: ref.UID, GID: ref.GID, Mode: 0o444}
	if t.Name == "" {
		t.Name = ref.Source
	}
	if t.UID == "" {
		t.UID = "0"
	}
	if t.GID == "" {
		t.GID = "0"
	}
	if ref.Mode != nil {
		t.Mode = os.FileMode(*ref.Mode)
	}
	return name, t
}

func (a *App) secretRefs(s composetypes.ServiceConfig) ([]*swarm.SecretReference, error) {
	refs := []*swarm.SecretReference{}
	for _, r := range s.Secrets {
		obj, ok := a.Config.Secrets[r.Source]
		if !ok {
			return nil, fmt.Errorf("undefined secret %q", r.Source)
		}
		name, file := a.fileTarget(composetypes.FileReferenceConfig(r), composetypes.FileObjectConfig(obj))
		refs = append(refs, &swarm.SecretReference{SecretName: name, File: &file})
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].SecretName < refs[j].SecretName })
	return refs, nil
}

func (a *App) configRefs(s composetypes.ServiceConfig) ([]*swarm.ConfigReference, error) {
	refs := []*swarm.ConfigReference{}
	for _, r := range s.Configs {
		obj, ok := a.Config.Configs[r.Source]
		if !ok {
			return nil, fmt.Errorf("undefined config %q", r.Source)
		}
		name, file := a.fileTarget(composetypes.FileReferenceConfig(r), composetypes.FileObjectConfig(obj))
		if r.Target == "" {
			file.Name = "/" + r.Source // docker's default config target
		}
		f := swarm.ConfigReferenceFileTarget(file)
		refs = append(refs, &swarm.ConfigReference{ConfigName: name, File: &f})
	}
	if c := s.CredentialSpec.Config; c != "" {
		obj, ok := a.Config.Configs[c]
		if !ok {
			return nil, fmt.Errorf("undefined config %q", c)
		}
		name := a.scoped(c)
		if obj.Name != "" {
			name = obj.Name
		}
		refs = append(refs, &swarm.ConfigReference{ConfigName: name, Runtime: &swarm.ConfigReferenceRuntimeTarget{}})
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].ConfigName < refs[j].ConfigName })
	return refs, nil
}

// credentialSpec is docker's convertCredentialSpec; a config's name is
// replaced by its id at deploy.
func credentialSpec(c composetypes.CredentialSpecConfig) (*swarm.CredentialSpec, error) {
	var set []string
	for _, f := range []struct{ name, v string }{{"Config", c.Config}, {"File", c.File}, {"Registry", c.Registry}} {
		if f.v != "" {
			set = append(set, `"`+f.name+`"`)
		}
	}
	switch len(set) {
	case 0:
		return nil, nil
	case 1:
		cs := swarm.CredentialSpec(c)
		return &cs, nil
	case 2:
		return nil, fmt.Errorf("invalid credential spec: cannot specify both %s and %s", set[0], set[1])
	}
	return nil, fmt.Errorf("invalid credential spec: cannot specify both %s, and %s", strings.Join(set[:len(set)-1], ", "), set[len(set)-1])
}

// mount is docker's convertVolumeToMount.
func (a *App) mount(v composetypes.ServiceVolumeConfig) (mount.Mount, error) {
	m := mount.Mount{
		Type: mount.Type(v.Type), Target: v.Target, ReadOnly: v.ReadOnly,
		Source: v.Source, Consistency: mount.Consistency(v.Consistency),
	}
	typ := v.Type
	if typ == "" {
		typ = "volume"
	}
	if err := mountRefused(v, typ); err != nil {
		return m, err
	}
	switch typ {
	case "volume":
		if v.Source == "" {
			return m, nil
		}
		vol, ok := a.Config.Volumes[v.Source]
		if !ok {
			return m, fmt.Errorf("undefined volume %q", v.Source)
		}
		m.Source = a.scoped(v.Source)
		if vol.Name != "" {
			m.Source = vol.Name
		}
		m.VolumeOptions = &mount.VolumeOptions{}
		if v.Volume != nil {
			m.VolumeOptions.NoCopy, m.VolumeOptions.Subpath = v.Volume.NoCopy, v.Volume.Subpath
		}
		if vol.External.External {
			return m, nil
		}
		// The engine puts these labels on the volume it creates for the
		// task: the only way a stack volume gets any.
		m.VolumeOptions.Labels = a.labels(vol.Labels)
		if vol.Driver != "" || vol.DriverOpts != nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{Name: vol.Driver, Options: vol.DriverOpts}
		}
	case "bind", "npipe", "image":
		if v.Bind != nil {
			m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
		}
		if v.Image != nil {
			m.ImageOptions = &mount.ImageOptions{Subpath: v.Image.Subpath}
		}
	case "tmpfs":
		if v.Tmpfs != nil {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: v.Tmpfs.Size}
		}
	case "cluster":
		m.ClusterOptions = &mount.ClusterOptions{}
		if !strings.HasPrefix(v.Source, "group:") {
			vol, ok := a.Config.Volumes[v.Source]
			if !ok {
				return m, fmt.Errorf("undefined volume %q", v.Source)
			}
			m.Source = a.scoped(v.Source)
			if vol.Name != "" {
				m.Source = vol.Name
			}
		}
	}
	return m, nil
}

// mountRefused is what docker's convertVolumeToMount refuses, per type in
// its order and words: a source the type must have (or must not), then
// the options of another type it cannot take. npipe takes bind options,
// and neither npipe nor cluster looks at the options of all the others.
func mountRefused(v composetypes.ServiceVolumeConfig, typ string) error {
	var source string // "need" or "none"
	var refused []string
	switch typ {
	case "volume":
		refused = []string{"image", "tmpfs", "bind", "cluster"}
	case "image":
		source, refused = "need", []string{"volume", "bind", "tmpfs", "cluster"}
	case "bind":
		source, refused = "need", []string{"volume", "image", "tmpfs", "cluster"}
	case "tmpfs":
		source, refused = "none", []string{"bind", "volume", "image", "cluster"}
	case "npipe":
		source, refused = "need", []string{"volume", "image", "tmpfs"}
	case "cluster":
		source, refused = "need", []string{"tmpfs", "bind", "volume"}
	default:
		return fmt.Errorf("volume type must be volume, bind, tmpfs, npipe, or cluster")
	}
	switch {
	case source == "need" && v.Source == "":
		return fmt.Errorf("invalid %s source, source cannot be empty", typ)
	case source == "none" && v.Source != "":
		return fmt.Errorf("invalid %s source, source must be empty", typ)
	}
	has := map[string]bool{"volume": v.Volume != nil, "bind": v.Bind != nil, "tmpfs": v.Tmpfs != nil, "image": v.Image != nil, "cluster": v.Cluster != nil}
	for _, o := range refused {
		if has[o] {
			if o == "image" && typ == "volume" {
				o = "images" // docker's word there
			}
			return fmt.Errorf("%s options are incompatible with type %s", o, typ)
		}
	}
	return nil
}

// extraHosts turns host:ip into swarm's "ip host", in order.
func extraHosts(hosts composetypes.HostsList) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if name, ip, ok := strings.Cut(h, ":"); ok {
			out = append(out, ip+" "+name)
		}
	}
	return out
}

func healthcheck(h *composetypes.HealthCheckConfig) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.Disable {
		if len(h.Test) != 0 {
			return nil, fmt.Errorf("test and disable can't be set at the same time")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	hc := &container.HealthConfig{Test: h.Test}
	for _, d := range []struct {
		from *composetypes.Duration
		to   *time.Duration
	}{{h.Timeout, &hc.Timeout}, {h.Interval, &hc.Interval}, {h.StartPeriod, &hc.StartPeriod}, {h.StartInterval, &hc.StartInterval}} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc, nil
}

// restartPolicy is deploy.restart_policy or, without it, the legacy
// `restart:` as docker's opts.ParseRestartPolicy reads it: a retry count
// after any policy is accepted (and used by on-failure alone), a negative
// one wraps around as in docker's uint64 conversion (TestRestartPolicy).
func restartPolicy(restart string, p *composetypes.RestartPolicy) (*swarm.RestartPolicy, error) {
	if p != nil {
		return &swarm.RestartPolicy{
			Condition: swarm.RestartPolicyCondition(p.Condition), Delay: composetypes.ConvertDurationPtr(p.Delay),
			MaxAttempts: p.MaxAttempts, Window: composetypes.ConvertDurationPtr(p.Window),
		}, nil
	}
	name, count, hasColon := strings.Cut(restart, ":")
	if hasColon && name == "" {
		return nil, fmt.Errorf("invalid restart policy format: no policy provided before colon")
	}
	retries := 0
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return nil, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer")
		}
		retries = n
	}
	switch name {
	case "", "no":
		return nil, nil
	case "always", "unless-stopped":
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}, nil
	case "on-failure":
		n := uint64(retries)
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: &n}, nil
	}
	return nil, fmt.Errorf("unknown restart policy: %s", restart)
}

func updateConfig(u *composetypes.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	parallel := uint64(1)
	if u.Parallelism != nil {
		parallel = *u.Parallelism
	}
	return &swarm.UpdateConfig{
		Parallelism: parallel, Delay: time.Duration(u.Delay), FailureAction: swarm.FailureAction(u.FailureAction),
		Monitor: time.Duration(u.Monitor), MaxFailureRatio: u.MaxFailureRatio, Order: swarm.UpdateOrder(u.Order),
	}
}

func resources(r composetypes.Resources) (*swarm.ResourceRequirements, error) {
	out := &swarm.ResourceRequirements{}
	if l := r.Limits; l != nil {
		cpus, err := parseCPUs(l.NanoCPUs)
		if err != nil {
			return nil, err
		}
		out.Limits = &swarm.Limit{NanoCPUs: cpus, MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
	}
	if res := r.Reservations; res != nil {
		cpus, err := parseCPUs(res.NanoCPUs)
		if err != nil {
			return nil, err
		}
		var generic []swarm.GenericResource
		for _, g := range res.GenericResources {
			var gr swarm.GenericResource
			if d := g.DiscreteResourceSpec; d != nil {
				gr.DiscreteResourceSpec = &swarm.DiscreteGenericResource{Kind: d.Kind, Value: d.Value}
			}
			generic = append(generic, gr)
		}
		out.Reservations = &swarm.Resources{NanoCPUs: cpus, MemoryBytes: int64(res.MemoryBytes), GenericResources: generic}
	}
	return out, nil
}

// parseCPUs is docker's opts.ParseCPUs: "1.5" is 1.5e9 nano CPUs.
func parseCPUs(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	cpu, ok := new(big.Rat).SetString(v)
	if !ok {
		return 0, fmt.Errorf("failed to parse %v as a rational number", v)
	}
	nano := cpu.Mul(cpu, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, fmt.Errorf("value is too precise")
	}
	return nano.Num().Int64(), nil
}

func endpointSpec(mode string, ports []composetypes.ServicePortConfig) *swarm.EndpointSpec {
	pcs := []swarm.PortConfig{}
	for _, p := range ports {
		pcs = append(pcs, swarm.PortConfig{
			Protocol: network.IPProtocol(p.Protocol), TargetPort: p.Target,
			PublishedPort: p.Published, PublishMode: swarm.PortConfigPublishMode(p.Mode),
		})
	}
	sort.Slice(pcs, func(i, j int) bool { return pcs[i].PublishedPort < pcs[j].PublishedPort })
	return &swarm.EndpointSpec{Mode: swarm.ResolutionMode(strings.ToLower(mode)), Ports: pcs}
}

// environment is the env list, sorted; a variable without a value is
// passed by name, as docker does.
func environment(env map[string]*string) []string {
	var out []string
	for k, v := range env {
		if v == nil {
			out = append(out, k)
		} else {
			out = append(out, k+"="+*v)
		}
	}
	sort.Strings(out)
	return out
}

func deployMode(mode string, replicas *uint64) (swarm.ServiceMode, error) {
	var m swarm.ServiceMode
	switch mode {
	case "global-job", "global":
		if replicas != nil {
			return m, fmt.Errorf("replicas can only be used with replicated or replicated-job mode")
		}
		if mode == "global" {
			m.Global = &swarm.GlobalService{}
		} else {
			m.GlobalJob = &swarm.GlobalJob{}
		}
	case "replicated-job":
		m.ReplicatedJob = &swarm.ReplicatedJob{MaxConcurrent: replicas, TotalCompletions: replicas}
	case "replicated", "":
		m.Replicated = &swarm.ReplicatedService{Replicas: replicas}
	default:
		return m, fmt.Errorf("Unknown mode: %s", mode)
	}
	return m, nil
}

func ulimits(in map[string]*composetypes.UlimitsConfig) []*container.Ulimit {
	out := make([]*container.Ulimit, 0, len(in))
	for _, name := range slices.Sorted(maps.Keys(in)) {
		u := in[name]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		out = append(out, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	return out
}

// effectiveCaps is docker's opts.EffectiveCapAddCapDrop: capabilities
// normalized to CAP_*, ALL wins over the rest, RESET dropped, a cap both
// added and dropped is added, both lists sorted.
func effectiveCaps(add, drop []string) (capAdd, capDrop []string) {
	set := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, c := range l {
			c = strings.ToUpper(strings.TrimSpace(c))
			if c != "ALL" && c != "RESET" && !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			m[c] = true
		}
		if m["ALL"] {
			m = map[string]bool{"ALL": true}
		}
		delete(m, "RESET")
		return m
	}
	adds, drops := set(add), set(drop)
	for c := range drops {
		if !adds[c] {
			capDrop = append(capDrop, c)
		}
	}
	for c := range adds {
		capAdd = append(capAdd, c)
	}
	slices.Sort(capAdd)
	slices.Sort(capDrop)
	return capAdd, capDrop
}
