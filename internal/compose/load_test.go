package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const base = `version: "3.8"
services:
  app:
    image: img:${TAG:-latest}
    environment:
      - DOMAIN
      - UNSET_PASSTHROUGH
      - LEVEL=info
    deploy:
      replicas: ${REPLICAS}
      labels:
        - "traefik.http.routers.${STACK_NAME}.rule=Host(` + "`${DOMAIN}`" + `)"
    volumes:
      - data:/data
      - ./conf:/conf:ro
    secrets: [db_password]
    stop_grace_period: 5s
volumes:
  data:
secrets:
  db_password:
    external: true
    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}
`

func write(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func env(extra ...string) map[string]string {
	m := map[string]string{"DOMAIN": "a.example.com", "STACK_NAME": "a_example_com", "REPLICAS": "2", "SECRET_DB_PASSWORD_VERSION": "v1"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func TestLoad(t *testing.T) {
	dir := write(t, map[string]string{"compose.yml": base})
	p, err := Load(dir, env())
	if err != nil {
		t.Fatal(err)
	}
	s := p.Services["app"]
	for _, c := range []struct{ what, got, want string }{
		{"image", s.Image, "img:latest"},
		{"DOMAIN", *s.Environment["DOMAIN"], "a.example.com"},
		{"LEVEL", *s.Environment["LEVEL"], "info"},
		{"label", *s.Deploy.Labels["traefik.http.routers.a_example_com.rule"], "Host(`a.example.com`)"},
		{"secret name", p.Secrets["db_password"].Name, "a_example_com_db_password_v1"},
		{"bind source", s.Volumes[1].Type + " " + s.Volumes[1].Source, "bind ./conf"},
		{"volume", s.Volumes[0].Type + " " + s.Volumes[0].Source + " " + s.Volumes[0].Target, "volume data /data"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if _, ok := s.Environment["UNSET_PASSTHROUGH"]; ok {
		t.Errorf("an environment entry unset in env should be dropped, as docker stack deploy does")
	}
	if s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
		t.Errorf("replicas from ${REPLICAS} = %v, want 2", s.Deploy.Replicas)
	}
	if !s.Volumes[1].ReadOnly || s.StopGracePeriod == nil || *s.StopGracePeriod != Duration(5e9) {
		t.Errorf("ro/stop_grace_period not parsed: %+v %v", s.Volumes[1], s.StopGracePeriod)
	}
	if p.Volumes["data"] == nil {
		t.Errorf("a volume declared with no body must be non-nil")
	}
}

func TestLoadOverride(t *testing.T) {
	dir := write(t, map[string]string{
		"compose.yml": base,
		"compose.smtp.yml": `version: "3.8"
services:
  app:
    environment:
      - SMTP_HOST=mail
    secrets: [smtp_password]
secrets:
  smtp_password:
    external: true
    name: ${STACK_NAME}_smtp_password_v1
`,
	})
	p, err := Load(dir, env("COMPOSE_FILE", "compose.yml:compose.smtp.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Services["app"]
	if len(p.Files) != 2 || s.Environment["SMTP_HOST"] == nil || *s.Environment["LEVEL"] != "info" {
		t.Errorf("override not merged: files %v env %v", p.Files, s.Environment)
	}
	if len(s.Secrets) != 2 || p.Secrets["smtp_password"].Name != "a_example_com_smtp_password_v1" {
		t.Errorf("override secrets not merged: %+v", s.Secrets)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		env   map[string]string
		want  []string // substrings of the error
	}{
		{"missing variable", map[string]string{"compose.yml": base}, map[string]string{"DOMAIN": "d", "STACK_NAME": "s", "REPLICAS": "1"},
			[]string{"compose.yml:23:", "SECRET_DB_PASSWORD_VERSION is not set"}},
		{"yaml syntax", map[string]string{"compose.yml": "services:\n  app:\n   image: x\n  bad\n"}, env(),
			[]string{"compose.yml:", "line 4"}},
		{"type error", map[string]string{"compose.yml": "services:\n  app:\n    image: x\n    deploy:\n      replicas: many\n"}, env(),
			[]string{"compose.yml:", "line 5", "many"}},
		{"undeclared volume", map[string]string{"compose.yml": "services:\n  app:\n    image: x\n    volumes: [d:/d]\n"}, env(),
			[]string{`service app: volume "d" is not declared`}},
		{"undeclared secret", map[string]string{"compose.yml": "services:\n  app:\n    image: x\n    secrets: [s]\n"}, env(),
			[]string{`service app: secret "s" is not declared`}},
		{"no image", map[string]string{"compose.yml": "services:\n  app:\n    environment: [A=1]\n"}, env(),
			[]string{"service app: no image"}},
		{"no services", map[string]string{"compose.yml": "version: '3.8'\n"}, env(), []string{"no services"}},
		{"missing override", map[string]string{"compose.yml": base}, env("COMPOSE_FILE", "compose.yml:compose.x.yml"),
			[]string{"compose.x.yml", "no such file"}},
		{"not a mapping", map[string]string{"compose.yml": "- a\n"}, env(), []string{"not a compose file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.files), tc.env)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
