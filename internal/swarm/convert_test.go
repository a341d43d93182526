package swarm

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"github.com/moby/moby/api/types/mount"
)

func testApp(t *testing.T, yml string) *App {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(dir, map[string]string{"STACK_NAME": "a_example_com"})
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp("A.Example.com", "42", p)
	if err != nil {
		t.Fatal(err)
	}
	return app
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
  conf: {file: conf.txt}
`

func TestServiceSpec(t *testing.T) {
	app := testApp(t, convertYML)
	if app.Stack != "a_example_com" || app.Domain != "a.example.com" {
		t.Fatalf("stack %q domain %q", app.Stack, app.Domain)
	}
	spec, err := app.ServiceSpec("app", Refs{Secrets: map[string]string{"db_password": "sid"}, Configs: map[string]string{"conf": "cid"}})
	if err != nil {
		t.Fatal(err)
	}
	cs := spec.TaskTemplate.ContainerSpec
	ours := map[string]string{LabelNamespace: "a_example_com", LabelRun: "42", LabelDomain: "a.example.com"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
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
		{"service labels", spec.Labels, with("traefik.enable", "true")},
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
		{"secret", [3]string{cs.Secrets[0].SecretID, cs.Secrets[0].SecretName, cs.Secrets[0].File.Name}, [3]string{"sid", "a_example_com_db_password_v1", "db_password"}},
		{"config", [3]string{cs.Configs[0].ConfigID, cs.Configs[0].ConfigName, cs.Configs[0].File.Name}, [3]string{"cid", "a_example_com_conf", "/etc/conf"}},
		{"config mode", cs.Configs[0].File.Mode, os.FileMode(0o400)},
		{"networks", [2]string{spec.TaskTemplate.Networks[0].Target, spec.TaskTemplate.Networks[1].Target}, [2]string{"a_example_com_internal", "proxy"}},
		{"alias", spec.TaskTemplate.Networks[0].Aliases, []string{"app"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestServiceSpecDefaults(t *testing.T) {
	app := testApp(t, "services:\n  web:\n    image: x\n    deploy: {mode: global}\n")
	spec, err := app.ServiceSpec("web", Refs{})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Mode.Global == nil || spec.TaskTemplate.Networks[0].Target != "a_example_com_default" {
		t.Errorf("global mode / default network: %+v %+v", spec.Mode, spec.TaskTemplate.Networks)
	}
	if _, err := app.ServiceSpec("nope", Refs{}); err == nil {
		t.Error("unknown service accepted")
	}
	app = testApp(t, "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {external: true}\n")
	if _, err := app.ServiceSpec("web", Refs{}); err == nil {
		t.Error("a secret without an id accepted")
	}
}

func TestNewAppValidates(t *testing.T) {
	for _, c := range [][2]string{{"-bad.example.com", "1"}, {"a.example.com", "../x"}, {"a_b.example.com", "1"}} {
		if _, err := NewApp(c[0], c[1], &compose.Project{}); err == nil {
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
