package swarm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/mount"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
	composetypes "github.com/docker/cli/cli/compose/types"
)

func testApp(t *testing.T, yml string) *App {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"compose.yml": yml, "conf.txt": "{{ env \"A\" }}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := compose.LoadConfig(dir, map[string]string{"STACK_NAME": "a_example_com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp("A.Example.com", "42", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// service returns the converted spec of the app's service name.
func service(t *testing.T, app *App, name string) swarm.ServiceSpec {
	t.Helper()
	p, err := app.plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.services {
		if s.Name == app.scoped(name) {
			return s
		}
	}
	t.Fatalf("no service %s in %+v", name, p.services)
	return swarm.ServiceSpec{}
}

const convertYML = `
services:
  app:
    image: img:1
    command: serve --port 80
    entrypoint: ["/bin/app"]
    environment: {B: "2", A: "1"}
    labels: [ctr=label]
    networks: [proxy, internal]
    volumes: [data:/data, /etc/x:/x:ro]
    secrets: [db_password]
    configs: [{source: conf, target: /etc/conf, mode: 0400}]
    ports: ["8080:80", {target: 443, published: 8443, mode: host}]
    logging: {driver: json-file, options: {max-size: 1m}}
    read_only: true
    init: true
    cap_add: [net_admin]
    cap_drop: [ALL]
    sysctls: [net.core.somaxconn=1024]
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 65535}
    dns: [1.1.1.1]
    extra_hosts: ["db:10.0.0.2"]
    tmpfs: [/run]
    stop_grace_period: 1m
    healthcheck: {test: "curl -f localhost", interval: 2s, retries: 5}
    deploy:
      replicas: 3
      labels: {traefik.enable: "true"}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 2}
      resources: {limits: {cpus: "0.5", memory: 64M}}
networks:
  proxy: {external: true}
  internal:
volumes:
  data:
secrets:
  db_password: {external: true, name: "${STACK_NAME}_db_password_v1"}
configs:
  conf: {file: conf.txt, template_driver: golang}
`

// Every key docker stack deploy converts comes out as docker's
// cli/compose/convert makes it, with ccci's labels added.
func TestServiceSpec(t *testing.T) {
	app := testApp(t, convertYML)
	if app.Stack != "a_example_com" || app.Domain != "a.example.com" {
		t.Fatalf("stack %q domain %q", app.Stack, app.Domain)
	}
	spec := service(t, app, "app")
	cs := spec.TaskTemplate.ContainerSpec
	ours := map[string]string{LabelNamespace: "a_example_com", LabelRun: "42", LabelDomain: "a.example.com"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		for a, b := range ours {
			m[a] = b
		}
		return m
	}
	grace := time.Minute
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"name", spec.Name, "a_example_com_app"},
		{"service labels", spec.Labels, with("traefik.enable", "true", LabelImage, "img:1")},
		{"container labels", cs.Labels, with("ctr", "label")},
		{"command (entrypoint)", cs.Command, []string{"/bin/app"}},
		{"args (command)", cs.Args, []string{"serve", "--port", "80"}},
		{"env sorted", cs.Env, []string{"A=1", "B=2"}},
		{"stop grace", cs.StopGracePeriod, &grace},
		{"healthcheck", cs.Healthcheck.Test, []string{"CMD-SHELL", "curl -f localhost"}},
		{"health interval", cs.Healthcheck.Interval, 2 * time.Second},
		{"replicas", *spec.Mode.Replicated.Replicas, uint64(3)},
		{"restart", string(spec.TaskTemplate.RestartPolicy.Condition), "on-failure"},
		{"cpus", spec.TaskTemplate.Resources.Limits.NanoCPUs, int64(5e8)},
		{"memory", spec.TaskTemplate.Resources.Limits.MemoryBytes, int64(64 << 20)},
		{"volume source", cs.Mounts[0].Source, "a_example_com_data"},
		{"volume labels", cs.Mounts[0].VolumeOptions.Labels, ours},
		{"bind", cs.Mounts[1], mount.Mount{Type: "bind", Source: "/etc/x", Target: "/x", ReadOnly: true}},
		{"secret", [2]string{cs.Secrets[0].SecretName, cs.Secrets[0].File.Name}, [2]string{"a_example_com_db_password_v1", "db_password"}},
		{"config", [2]string{cs.Configs[0].ConfigName, cs.Configs[0].File.Name}, [2]string{"a_example_com_conf", "/etc/conf"}},
		{"config mode", cs.Configs[0].File.Mode, os.FileMode(0o400)},
		{"networks", [2]string{spec.TaskTemplate.Networks[0].Target, spec.TaskTemplate.Networks[1].Target}, [2]string{"a_example_com_internal", "proxy"}},
		{"alias", spec.TaskTemplate.Networks[0].Aliases, []string{"app"}},
		{"ports", spec.EndpointSpec.Ports, []swarm.PortConfig{
			{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
			{TargetPort: 443, PublishedPort: 8443, PublishMode: "host"}}}, // long syntax: no default protocol, as in docker
		{"logging", *spec.TaskTemplate.LogDriver, swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "1m"}}},
		{"read_only", cs.ReadOnly, true},
		{"init", *cs.Init, true},
		{"caps", [2][]string{cs.CapabilityAdd, cs.CapabilityDrop}, [2][]string{{"CAP_NET_ADMIN"}, {"ALL"}}},
		{"sysctls", cs.Sysctls, map[string]string{"net.core.somaxconn": "1024"}},
		{"ulimits", [4]int64{cs.Ulimits[0].Soft, cs.Ulimits[0].Hard, cs.Ulimits[1].Soft, cs.Ulimits[1].Hard}, [4]int64{100, 200, 65535, 65535}},
		{"dns", cs.DNSConfig.Nameservers[0].String(), "1.1.1.1"},
		{"extra_hosts", cs.Hosts, []string{"10.0.0.2 db"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	p, err := app.plan()
	if err != nil {
		t.Fatal(err)
	}
	// The config is templated by the engine, as docker stack deploy asks.
	if len(p.configs) != 1 || p.configs[0].Templating == nil || p.configs[0].Templating.Name != "golang" ||
		string(p.configs[0].Data) != `{{ env "A" }}` {
		t.Errorf("configs = %+v, want conf templated by golang", p.configs)
	}
	// The external secret is CreateSecrets's; the external network must exist.
	if len(p.secrets) != 0 || !reflect.DeepEqual(p.externalNetworks, []string{"proxy"}) {
		t.Errorf("secrets %+v externals %v", p.secrets, p.externalNetworks)
	}
	if n := p.networks["a_example_com_internal"]; n.Driver != "overlay" || n.Scope != "swarm" || n.Labels[LabelRun] != "42" {
		t.Errorf("internal network = %+v", n)
	}
}

func TestServiceSpecDefaults(t *testing.T) {
	app := testApp(t, "services:\n  web:\n    image: x\n    deploy: {mode: global}\n    restart: unless-stopped\n")
	spec := service(t, app, "web")
	if spec.Mode.Global == nil || spec.TaskTemplate.Networks[0].Target != "a_example_com_default" {
		t.Errorf("global mode / default network: %+v %+v", spec.Mode, spec.TaskTemplate.Networks)
	}
	if rp := spec.TaskTemplate.RestartPolicy; rp == nil || rp.Condition != swarm.RestartPolicyConditionAny {
		t.Errorf("legacy restart: unless-stopped = %+v, want condition any", rp)
	}
}

// What docker stack deploy refuses, Check refuses, naming it.
func TestCheckRefuses(t *testing.T) {
	for _, c := range []struct{ yml, want string }{
		{"services:\n  web:\n    image: x\n    networks: [nope]\n", `undefined network "nope"`},
		{"services:\n  web:\n    image: x\n    secrets: [nope]\n", `undefined secret "nope"`},
		{"services:\n  web:\n    image: x\n    deploy: {mode: global, replicas: 2}\n", "replicas can only be used"},
		{"services:\n  web:\n    image: x\n    restart: sometimes\n", "unknown restart policy"},
		{"services:\n  web:\n    image: x\n    deploy: {resources: {limits: {cpus: '0.0000000001'}}}\n", "too precise"},
		{"services:\n  web:\n    image: x\n    credential_spec: {file: a, registry: b}\n", `cannot specify both "File" and "Registry"`},
		{"services:\n  web:\n    image: x\n    credential_spec: {config: c, file: a, registry: b}\nconfigs:\n  c: {file: conf.txt}\n", `cannot specify both "Config", "File", and "Registry"`},
	} {
		err := testApp(t, c.yml).Check()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "service web") {
			t.Errorf("Check(%q) = %v, want service web: %s", c.yml, err, c.want)
		}
	}
}

func TestNewAppValidates(t *testing.T) {
	for _, c := range [][2]string{{"-bad.example.com", "1"}, {"a.example.com", "../x"}, {"a_b.example.com", "1"}} {
		if _, err := NewApp(c[0], c[1], &composetypes.Config{}); err == nil {
			t.Errorf("NewApp(%q, %q) accepted", c[0], c[1])
		}
	}
}

func TestStackOf(t *testing.T) {
	for _, c := range []struct {
		r           Resource
		want, stack string
	}{
		{Resource{Name: "x", Labels: map[string]string{LabelNamespace: "s"}}, "", "s"},
		{Resource{Name: "x", Labels: map[string]string{LabelDomain: "a.b.c"}}, "", "a_b_c"},
		{Resource{Name: "s_db_password_v1"}, "s", "s"},
		{Resource{Name: "s_db_password_v1"}, "", ""},
		{Resource{Name: "other_x"}, "s", ""},
		{Resource{Name: "abc", Labels: map[string]string{"com.docker.swarm.service.name": "s_app"}}, "s", "s"},
	} {
		if got := stackOf(c.r, c.want); got != c.stack {
			t.Errorf("stackOf(%+v, %q) = %q, want %q", c.r, c.want, got, c.stack)
		}
	}
}

// The legacy `restart:` converts as docker's convertRestartPolicy over
// opts.ParseRestartPolicy: a count is read after any policy, used by
// on-failure alone; deploy.restart_policy wins over it.
func TestRestartPolicy(t *testing.T) {
	u := func(n uint64) *uint64 { return &n }
	for _, c := range []struct {
		restart string
		want    *swarm.RestartPolicy
		err     string
	}{
		{"", nil, ""},
		{"no", nil, ""},
		{"no:1", nil, ""},
		{"always", &swarm.RestartPolicy{Condition: "any"}, ""},
		{"always:3", &swarm.RestartPolicy{Condition: "any"}, ""},
		{"unless-stopped", &swarm.RestartPolicy{Condition: "any"}, ""},
		{"on-failure", &swarm.RestartPolicy{Condition: "on-failure", MaxAttempts: u(0)}, ""},
		{"on-failure:", &swarm.RestartPolicy{Condition: "on-failure", MaxAttempts: u(0)}, ""},
		{"on-failure:5", &swarm.RestartPolicy{Condition: "on-failure", MaxAttempts: u(5)}, ""},
		{"on-failure:-1", &swarm.RestartPolicy{Condition: "on-failure", MaxAttempts: u(1<<64 - 1)}, ""},
		{"on-failure:x", nil, "maximum retry count must be an integer"},
		{":3", nil, "no policy provided before colon"},
		{"sometimes", nil, "unknown restart policy: sometimes"},
		{"sometimes:2", nil, "unknown restart policy: sometimes:2"},
	} {
		got, err := restartPolicy(c.restart, nil)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("restart %q: %+v, %v; want an error with %q", c.restart, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("restart %q: %+v, %v; want %+v", c.restart, got, err, c.want)
		}
	}
	got, err := restartPolicy("always", &composetypes.RestartPolicy{Condition: "none", MaxAttempts: u(2)})
	if err != nil || got.Condition != "none" || *got.MaxAttempts != 2 {
		t.Errorf("restart_policy over restart: %+v, %v; want condition none, 2 attempts", got, err)
	}
}

// The rest of issue #12's list, as docker converts it: tmpfs size,
// placement preferences, the pids limit, a secret's driver (no data: the
// driver provides it) and a secret's templating.
func TestServiceSpecIssueKeys(t *testing.T) {
	app := testApp(t, `services:
  app:
    image: img:1
    volumes: [{type: tmpfs, target: /cache, tmpfs: {size: 67108864}}]
    secrets: [vault, tmpl]
    deploy:
      placement: {preferences: [{spread: node.labels.zone}], constraints: [node.role==manager], max_replicas_per_node: 2}
      resources: {limits: {pids: 100}}
secrets:
  vault: {driver: vaultdrv, driver_opts: {path: a/b}}
  tmpl: {file: conf.txt, template_driver: golang}
`)
	spec := service(t, app, "app")
	cs := spec.TaskTemplate.ContainerSpec
	pl := spec.TaskTemplate.Placement
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"tmpfs", cs.Mounts[0], mount.Mount{Type: "tmpfs", Target: "/cache", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20}}},
		{"preferences", pl.Preferences, []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}},
		{"constraints", pl.Constraints, []string{"node.role==manager"}},
		{"max replicas", pl.MaxReplicas, uint64(2)},
		{"pids", spec.TaskTemplate.Resources.Limits.Pids, int64(100)},
		{"secret refs", [2]string{cs.Secrets[0].SecretName, cs.Secrets[1].SecretName}, [2]string{"a_example_com_tmpl", "a_example_com_vault"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	p, err := app.plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.secrets) != 2 {
		t.Fatalf("secrets = %+v", p.secrets)
	}
	tmpl, vault := p.secrets[0], p.secrets[1]
	if tmpl.Templating == nil || tmpl.Templating.Name != "golang" || tmpl.Driver != nil || string(tmpl.Data) != `{{ env "A" }}` {
		t.Errorf("templated secret = %+v, want the file's data, templated by golang", tmpl)
	}
	if vault.Driver == nil || vault.Driver.Name != "vaultdrv" || vault.Driver.Options["path"] != "a/b" || len(vault.Data) != 0 || vault.Templating != nil {
		t.Errorf("driver secret = %+v, want driver vaultdrv with its options and no data", vault)
	}
}

// Every key of docker's ServiceConfig is either converted here or named
// in a warning (compose.LoadConfig), never dropped silently: a key docker
// adds on an upgrade fails this test until it is one or the other.
func TestEveryServiceKeyConvertedOrWarned(t *testing.T) {
	converted := map[string]bool{}
	for _, k := range strings.Fields(`cap_add cap_drop command configs credential_spec deploy dns dns_search
		entrypoint env_file environment extra_hosts healthcheck hostname image init isolation labels logging
		networks oom_score_adj ports read_only restart secrets stdin_open stop_grace_period stop_signal sysctls
		tty ulimits user volumes working_dir`) {
		converted[k] = true
	}
	// A value docker's loader accepts for each key it does not convert.
	ignored := map[string]string{
		"build": ".", "cgroupns_mode": "host", "cgroup_parent": "p", "container_name": "c", "depends_on": "[db]",
		"devices": "[/dev/fuse]", "domainname": "d", "expose": `["80"]`, "external_links": "[x]", "ipc": "host",
		"links": "[db]", "mac_address": "02:42:ac:11:00:02", "network_mode": "host", "pid": "host",
		"privileged": "true", "security_opt": "[no-new-privileges]", "shm_size": "1m", "tmpfs": "[/run]",
		"userns_mode": "host",
	}
	typ := reflect.TypeOf(composetypes.ServiceConfig{})
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if key == "-" || key == "" || converted[key] {
			continue
		}
		val, ok := ignored[key]
		if !ok {
			t.Errorf("service key %s is neither converted nor warned about", key)
			continue
		}
		dir := t.TempDir()
		yml := "services:\n  app:\n    image: x\n    " + key + ": " + val + "\n  db:\n    image: y\n"
		if err := os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
		var warns []string
		if _, err := compose.LoadConfig(dir, nil, func(w string) { warns = append(warns, w) }); err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if len(warns) != 1 || !strings.HasPrefix(warns[0], "service app: ignoring "+key+":") {
			t.Errorf("%s: warnings %q, want one naming service app and %s", key, warns, key)
		}
	}
}

// A service volume is refused as docker's convertVolumeToMount refuses
// it, and only then: the source rule of its type first, then the options
// of a type it cannot take (npipe takes bind's; cluster and npipe do not
// look at image's).
func TestMountRefused(t *testing.T) {
	var (
		bind    = &composetypes.ServiceVolumeBind{}
		vol     = &composetypes.ServiceVolumeVolume{}
		tmpfs   = &composetypes.ServiceVolumeTmpfs{}
		image   = &composetypes.ServiceVolumeImage{}
		cluster = &composetypes.ServiceVolumeCluster{}
	)
	for _, c := range []struct {
		v    composetypes.ServiceVolumeConfig
		want string
	}{
		{composetypes.ServiceVolumeConfig{Target: "/t"}, ""},
		{composetypes.ServiceVolumeConfig{Target: "/t", Image: image, Bind: bind}, "images options are incompatible with type volume"},
		{composetypes.ServiceVolumeConfig{Type: "bind", Target: "/t", Volume: vol}, "invalid bind source, source cannot be empty"},
		{composetypes.ServiceVolumeConfig{Type: "bind", Source: "/s", Target: "/t", Tmpfs: tmpfs, Volume: vol}, "volume options are incompatible with type bind"},
		{composetypes.ServiceVolumeConfig{Type: "tmpfs", Source: "/s", Target: "/t", Bind: bind}, "invalid tmpfs source, source must be empty"},
		{composetypes.ServiceVolumeConfig{Type: "tmpfs", Target: "/t", Cluster: cluster}, "cluster options are incompatible with type tmpfs"},
		{composetypes.ServiceVolumeConfig{Type: "npipe", Source: `\\.\pipe\x`, Target: "/t", Bind: bind, Cluster: cluster}, ""},
		{composetypes.ServiceVolumeConfig{Type: "npipe", Source: `\\.\pipe\x`, Target: "/t", Image: image}, "image options are incompatible with type npipe"},
		{composetypes.ServiceVolumeConfig{Type: "cluster", Source: "group:g", Target: "/t", Image: image}, ""},
		{composetypes.ServiceVolumeConfig{Type: "cluster", Source: "group:g", Target: "/t", Volume: vol}, "volume options are incompatible with type cluster"},
		{composetypes.ServiceVolumeConfig{Type: "image", Target: "/t"}, "invalid image source, source cannot be empty"},
		{composetypes.ServiceVolumeConfig{Type: "sshfs", Source: "s", Target: "/t"}, "volume type must be volume, bind, tmpfs, npipe, or cluster"},
	} {
		_, err := (&App{Stack: "s", Config: &composetypes.Config{}}).mount(c.v)
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want) {
			t.Errorf("mount(%+v) = %v, want %q", c.v, err, c.want)
		}
	}
}
