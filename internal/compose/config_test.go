package compose

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// TestSubstitute: values, defaults, required errors and docker's quirks
// (no nesting, no :+, an unbraced name swallowing -default, a later
// substitution clearing an earlier error) come out as docker's template.
func TestSubstitute(t *testing.T) {
	env := map[string]string{"A": "a", "E": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"$A ${A} x${A}y", "a a xay", ""},
		{"[$U] [${U}]", "[] []", ""},
		{"$$A $${A} $$", "$A ${A} $", ""},
		{"${U:-d} ${E:-d} ${A:-d}", "d d a", ""},
		{"${U-d} [${E-d}]", "d []", ""},
		{"${A:?m} [${E?m}]", "a []", ""},
		{"${U:?need U}", "", "required variable U is not set: need U"},
		{"${E:?need E}", "", "required variable E is not set: need E"},
		{"${U?}", "", "required variable U is not set"},
		{"${U:-${A}}", "${A}", ""},
		{"$A-rest", "a", ""},
		{"$U:-x}y", "x}y", ""},
		{"$A:80", "a:80", ""},
		{"${U:-a b}", "a b", ""},
		{"${A:+x}", "", `invalid interpolation format "${A:+x}"`},
		{"x$", "x", `invalid interpolation format "x$"`},
		{"${", "", `invalid interpolation format "${"`},
		{"$1", "1", `invalid interpolation format "$1"`},
		{"${U:?m} $A", " a", ""},
	} {
		var unset []string
		got, err := substitute(tc.in, lookup, func(v string) { unset = append(unset, v) })
		switch {
		case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("substitute(%q) err = %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("substitute(%q) err = %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, u := range unset {
			if u != "U" {
				t.Errorf("substitute(%q) reported %q unset", tc.in, u)
			}
		}
	}
}

// writeRecipe makes a recipe directory from name -> content.
func writeRecipe(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadConfigErrors: every refusal is an ErrInput naming the file and
// the key path or line, and the variable where one is at fault.
func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		env       map[string]string
		want      []string
	}{
		{"bad yaml", "services:\n  app: [\n", nil, []string{"compose.yml", "line 2"}},
		{"not a mapping", "- a\n", nil, []string{"compose.yml", "top-level object must be a mapping"}},
		{"required", "services:\n  app:\n    image: x\n    environment:\n      - A=${NEED:?set NEED}\n", nil,
			[]string{"compose.yml", "services.app.environment.[]", "NEED", "set NEED"}},
		{"unknown key", "services:\n  app:\n    image: x\n    deploy:\n      replica: 2\n", nil,
			[]string{"compose.yml", "services.app.deploy", `"replica"`}},
		{"unknown top-level key", "name: x\nservices:\n  app:\n    image: x\n", nil, []string{"compose.yml", `top-level key "name"`}},
		{"wrong type", "services:\n  app:\n    image: [x]\n", nil, []string{"compose.yml", "services.app.image", "want a string"}},
		{"bad cast", "services:\n  app:\n    image: x\n    deploy:\n      replicas: ${N}\n", map[string]string{"N": "two"}, []string{"services.app.deploy.replicas", `"two"`}},
		{"bad duration", "services:\n  app:\n    image: x\n    stop_grace_period: 10\n", nil, []string{"services.app.stop_grace_period", "duration"}},
		{"forbidden", "services:\n  app:\n    image: x\n    extends: y\n", nil, []string{"services.app", "extends"}},
		{"no image", "services:\n  app:\n    command: x\n", nil, []string{"service app", "no image"}},
		{"bad port", "services:\n  app:\n    image: x\n    ports: [\"80:80/xtp\"]\n", nil, []string{"services.app.ports", "xtp"}},
		{"bad version", "version: \"4\"\nservices:\n  app:\n    image: x\n", nil, []string{"unsupported compose file version: 4"}},
		{"missing file", "services:\n  app:\n    image: x\n", map[string]string{"COMPOSE_FILE": "compose.yml:nope.yml"}, []string{"nope.yml", "no such compose file"}},
		{"COMPOSE_FILE empty entry", "services:\n  app:\n    image: x\n", map[string]string{"COMPOSE_FILE": ":compose.yml"}, []string{`COMPOSE_FILE=":compose.yml"`, "empty entry"}},
		{"COMPOSE_FILE empty", "services:\n  app:\n    image: x\n", map[string]string{"COMPOSE_FILE": ""}, []string{`COMPOSE_FILE=""`, "empty entry"}},
		{"unquoted version", "version: 3.8\nservices:\n  app:\n    image: x\n", nil, []string{"compose.yml", "version must be a string"}},
		{"boolean in environment", "services:\n  app:\n    image: x\n    environment: {DEBUG: true}\n", nil, []string{"services.app.environment.DEBUG", "boolean"}},
		{"mapping in deploy.labels", "services:\n  app:\n    image: x\n    deploy: {labels: {a: {b: c}}}\n", nil, []string{"services.app.deploy.labels.a", "mapping"}},
		{"number in a label list", "services:\n  app:\n    image: x\n    labels: [a=1, 5]\n", nil, []string{"services.app.labels[1]", "want a string"}},
		{"repeated environment entry", "services:\n  app:\n    image: x\n    environment: [A=1, B=2, A=1]\n", nil, []string{"services.app.environment", "items 0 and 2", "unique"}},
		{"repeated cap_add", "services:\n  app:\n    image: x\n    cap_add: [NET_ADMIN, NET_ADMIN]\n", nil, []string{"services.app.cap_add", "unique"}},
		{"boolean in a network's labels", "services:\n  app:\n    image: x\nnetworks:\n  n: {labels: {a: false}}\n", nil, []string{"networks.n.labels.a", "boolean"}},
		{"x- key in deploy", "services:\n  app:\n    image: x\n    deploy: {x-a: 1}\n", nil, []string{"services.app.deploy", `"x-a"`}},
		{"x- key in a port", "services:\n  app:\n    image: x\n    ports: [{target: 80, x-a: 1}]\n", nil, []string{"services.app.ports[0]", `"x-a"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRecipe(t, map[string]string{"compose.yml": tc.yml})
			_, err := LoadConfig(dir, tc.env, nil)
			if err == nil || !errors.Is(err, ErrInput) {
				t.Fatalf("LoadConfig = %v, want an ErrInput", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestLoadConfigExtensions: as docker's schema, x-* keys are accepted at
// the top level and in services, networks, volumes, secrets and configs;
// any key is accepted (and dropped) in the mappings the schema leaves
// open: secret and config references, volume options, build.
func TestLoadConfigExtensions(t *testing.T) {
	yml := `x-top: 1
services:
  app:
    image: x
    x-svc: 1
    build: {context: ., other: 1}
    secrets: [{source: s, other: 1}]
    configs: [{source: c, other: 1}]
    volumes:
      - {type: bind, source: /a, target: /b, bind: {propagation: rslave, other: 1}}
      - {type: volume, source: v, target: /v, volume: {nocopy: true, other: 1}}
      - {type: tmpfs, target: /t, tmpfs: {size: 10, other: 1}}
networks: {n: {x-net: 1}}
volumes: {v: {x-vol: 1}}
secrets: {s: {external: true, x-sec: 1}}
configs: {c: {external: true, x-conf: 1}}
`
	dir := writeRecipe(t, map[string]string{"compose.yml": yml})
	cfg, err := LoadConfig(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Services[0].Extras["x-svc"]; got != 1 {
		t.Errorf("service x-svc = %v, want 1", got)
	}
	if got := cfg.Services[0].Volumes[0].Bind.Propagation; got != "rslave" {
		t.Errorf("bind propagation = %q, want rslave", got)
	}
}

// TestLoadConfigListOrDict: what docker's schema accepts in an
// environment, labels or sysctls mapping (strings, numbers, null, a YAML
// timestamp) loads, each form merged with the others by key.
func TestLoadConfigListOrDict(t *testing.T) {
	dir := writeRecipe(t, map[string]string{"compose.yml": "services:\n  app:\n    image: x\n    environment: {A: 1.5, B: null, C: 2001-12-14, D: \"true\"}\n    sysctls: [a=1, b=1]\n"})
	cfg, err := LoadConfig(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	str := func(v string) *string { return &v }
	want := composetypes.MappingWithEquals{"A": str("1.5"), "B": nil, "C": str("2001-12-14 00:00:00 +0000 UTC"), "D": str("true")}
	if got := cfg.Services[0].Environment; !reflect.DeepEqual(got, want) {
		t.Errorf("environment = %v, want %v", got, want)
	}
}

// TestLoadConfigWarnings: an unset variable is one warning per file
// naming the variable and the file, however often it is used; options
// swarm ignores are one warning.
func TestLoadConfigWarnings(t *testing.T) {
	dir := writeRecipe(t, map[string]string{
		"compose.yml":  "services:\n  app:\n    image: x${U}\n    environment:\n      - A=$U\n      - B=${U}\n    restart: always\n    container_name: c\n  db:\n    image: y\n    privileged: true\n    build: .\n    restart: always\n    deploy: {restart_policy: {condition: any}}\n",
		"override.yml": "services:\n  app:\n    environment:\n      - C=$U\n",
	})
	var warns []string
	if _, err := LoadConfig(dir, map[string]string{"COMPOSE_FILE": "compose.yml:override.yml"}, func(w string) { warns = append(warns, w) }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "compose.yml") + ": variable U is not set, substituting an empty string",
		filepath.Join(dir, "override.yml") + ": variable U is not set, substituting an empty string",
		"service app: ignoring container_name: not used by docker stack deploy",
		"service db: ignoring build, privileged, restart (deploy.restart_policy is used): not used by docker stack deploy",
	}
	if !reflect.DeepEqual(warns, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", warns, want)
	}
}

// TestMergeRules: what docker's merge does to two files, field by field.
func TestMergeRules(t *testing.T) {
	base := `version: "3.8"
services:
  app:
    image: a:1
    command: ["one", "two"]
    environment: {A: "1", B: "2", E: "keep"}
    labels: ["l1=a"]
    ports: ["80:80", "443:443"]
    volumes: ["data:/data", "./x:/x"]
    secrets: [s1]
    cap_add: [NET_ADMIN]
    extra_hosts: ["h1:1.1.1.1"]
    deploy:
      replicas: 2
      labels: {d1: a}
      resources: {limits: {memory: 1G}}
    logging: {driver: json-file, options: {max-size: 1m}}
    networks: {n1: {aliases: [x]}}
    x-over: plain
    x-both: {a: "1"}
volumes: {data: {labels: {a: b}}}
secrets: {s1: {external: true}, s2: {external: true}}
networks: {n1: {}}
`
	over := `version: "3.8"
services:
  app:
    image: a:2
    command: three
    environment: ["B=20", "C=3", "E="]
    labels: {l2: b}
    ports: ["80:8080"]
    volumes: ["other:/data"]
    secrets: [s2]
    cap_add: [NET_ADMIN]
    extra_hosts: {h2: 2.2.2.2}
    deploy:
      replicas: 0
      labels: ["d2=b"]
    logging: {options: {max-file: "3"}}
    networks: {n1: {aliases: [y]}}
    x-over: {now: a mapping}
    x-both: {b: "2"}
volumes: {data: {}}
`
	dir := writeRecipe(t, map[string]string{"compose.yml": base, "over.yml": over})
	cfg, err := LoadConfig(dir, map[string]string{"COMPOSE_FILE": "compose.yml:over.yml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Services[0]
	str := func(v string) *string { return &v }
	zero := uint64(0)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"scalar replaced", s.Image, "a:2"},
		{"command replaced", s.Command, composetypes.ShellCommand{"three"}},
		{"environment merged by key, an empty value does not clear", s.Environment, composetypes.MappingWithEquals{"A": str("1"), "B": str("20"), "C": str("3"), "E": str("keep")}},
		{"labels merged by key", s.Labels, composetypes.Labels{"l1": "a", "l2": "b"}},
		{"deploy.labels merged by key", s.Deploy.Labels, composetypes.Labels{"d1": "a", "d2": "b"}},
		{"replicas replaced even by 0", s.Deploy.Replicas, &zero},
		{"nested mapping kept", s.Deploy.Resources.Limits.MemoryBytes, composetypes.UnitBytes(1 << 30)},
		{"ports merged by published port, sorted", s.Ports, []composetypes.ServicePortConfig{
			{Mode: "ingress", Target: 8080, Published: 80, Protocol: "tcp"},
			{Mode: "ingress", Target: 443, Published: 443, Protocol: "tcp"}}},
		{"volumes merged by target, sorted", s.Volumes, []composetypes.ServiceVolumeConfig{
			{Type: "volume", Source: "other", Target: "/data"},
			{Type: "bind", Source: filepath.Join(dir, "x"), Target: "/x"}}},
		{"secrets merged by source", s.Secrets, []composetypes.ServiceSecretConfig{{Source: "s1"}, {Source: "s2"}}},
		{"other lists appended", s.CapAdd, []string{"NET_ADMIN", "NET_ADMIN"}},
		{"extra_hosts appended in either form", s.ExtraHosts, composetypes.HostsList{"h1:1.1.1.1", "h2:2.2.2.2"}},
		{"logging options merged under one driver", s.Logging, &composetypes.LoggingConfig{Driver: "json-file", Options: map[string]string{"max-size": "1m", "max-file": "3"}}},
		{"network aliases replaced", s.Networks["n1"].Aliases, []string{"y"}},
		{"x-* mapping replaces a scalar", s.Extras["x-over"], map[string]any{"now": "a mapping"}},
		{"x-* mappings merged", s.Extras["x-both"], map[string]any{"a": "1", "b": "2"}},
		{"top-level entry replaced whole", cfg.Volumes["data"], composetypes.VolumeConfig{}},
		{"top-level entries of the first file kept", len(cfg.Secrets), 2},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

// TestShortSyntax: ports, volumes and commands in their string forms parse
// as docker parses them.
func TestShortSyntax(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []composetypes.ServicePortConfig
		err  string
	}{
		{"80", []composetypes.ServicePortConfig{{Mode: "ingress", Target: 80, Protocol: "tcp"}}, ""},
		{"8080:80/UDP", []composetypes.ServicePortConfig{{Mode: "ingress", Target: 80, Published: 8080, Protocol: "udp"}}, ""},
		{"127.0.0.1:9000-9001:90-91", []composetypes.ServicePortConfig{
			{Mode: "ingress", Target: 90, Published: 9000, Protocol: "tcp"}, {Mode: "ingress", Target: 91, Published: 9001, Protocol: "tcp"}}, ""},
		{"[::1]:53:53/sctp", []composetypes.ServicePortConfig{{Mode: "ingress", Target: 53, Published: 53, Protocol: "sctp"}}, ""},
		{"8000-8001:80", []composetypes.ServicePortConfig{
			{Mode: "ingress", Target: 80, Published: 8000, Protocol: "tcp"}, {Mode: "ingress", Target: 80, Published: 8001, Protocol: "tcp"}}, ""},
		{"1-2:5-7", nil, "invalid ranges"},
		{"x:80", nil, "invalid hostPort: x"},
		{"80/icmp", nil, "invalid proto: icmp"},
		{"bad.ip:1:2", nil, "invalid IP address"},
	} {
		got, err := parsePortSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("port %q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var ports []composetypes.ServicePortConfig
		for _, p := range got {
			ports = append(ports, p.(composetypes.ServicePortConfig))
		}
		if err != nil || !reflect.DeepEqual(ports, tc.want) {
			t.Errorf("port %q = %+v, %v; want %+v", tc.in, ports, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want composetypes.ServiceVolumeConfig
		err  string
	}{
		{"/data", composetypes.ServiceVolumeConfig{Type: "volume", Target: "/data"}, ""},
		{"data:/data:ro,nocopy", composetypes.ServiceVolumeConfig{Type: "volume", Source: "data", Target: "/data", ReadOnly: true, Volume: &composetypes.ServiceVolumeVolume{NoCopy: true}}, ""},
		{"./conf:/etc/conf:rslave", composetypes.ServiceVolumeConfig{Type: "bind", Source: "./conf", Target: "/etc/conf", Bind: &composetypes.ServiceVolumeBind{Propagation: "rslave"}}, ""},
		{"~/x:/x", composetypes.ServiceVolumeConfig{Type: "bind", Source: "~/x", Target: "/x"}, ""},
		{"data:/x:ro:z", composetypes.ServiceVolumeConfig{}, "too many colons"},
		{"c:/x:/y", composetypes.ServiceVolumeConfig{Type: "bind", Source: "c:/x", Target: "/y"}, ""},
		{"data::/x", composetypes.ServiceVolumeConfig{}, "empty section"},
	} {
		got, err := parseVolume(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("volume %q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("volume %q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{`/bin/sh -c "echo \"hi\"; exit 1"`, []string{"/bin/sh", "-c", `echo "hi"; exit 1`}, ""},
		{`a 'b c' d\ e`, []string{"a", "b c", "d e"}, ""},
		{"a # comment\nb", []string{"a", "b"}, ""},
		{"x#y", []string{"x#y"}, ""},
		{`"open`, nil, "closing quote"},
		{`end\`, nil, "escape"},
	} {
		got, err := shlexSplit(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("shlex %q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shlex %q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestSecretHints: hints for the secrets services use, from the version
// lines' modifiers; a name without a version is refused.
func TestSecretHints(t *testing.T) {
	yml := `services:
  app:
    image: x
    secrets: [db_password, api_key, token]
secrets:
  db_password: {external: true, name: "${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}"}
  api_key: {external: true, name: "${STACK_NAME}_api_key_${SECRET_API_KEY_VERSION}"}
  token: {external: true, name: "${STACK_NAME}_token_${SECRET_TOKEN_VERSION}"}
  unused: {external: true, name: "${STACK_NAME}_unused_"}
`
	dir := writeRecipe(t, map[string]string{"compose.yml": yml})
	envText := "SECRET_DB_PASSWORD_VERSION=v2 # length=32 charset=hex\nSECRET_API_KEY_VERSION=v1 # generate=false\nSECRET_TOKEN_VERSION=v1\n"
	vars, err := parseEnv(strings.NewReader(envText), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	env := Map(vars)
	env["STACK_NAME"] = "s"
	cfg, err := LoadConfig(dir, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	hints, err := SecretHints(cfg, vars)
	if err != nil {
		t.Fatal(err)
	}
	want := []SecretHint{
		{Key: "api_key", Name: "s_api_key_v1", Version: "v1", EnvVar: "SECRET_API_KEY_VERSION", Generate: false},
		{Key: "db_password", Name: "s_db_password_v2", Version: "v2", EnvVar: "SECRET_DB_PASSWORD_VERSION", Length: 32, Charset: "hex", Generate: true},
		{Key: "token", Name: "s_token_v1", Version: "v1", EnvVar: "SECRET_TOKEN_VERSION", Generate: true},
	}
	if !reflect.DeepEqual(hints, want) {
		t.Errorf("hints:\n%+v\nwant\n%+v", hints, want)
	}
	delete(env, "SECRET_TOKEN_VERSION")
	if cfg, err = LoadConfig(dir, env, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := SecretHints(cfg, vars); err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "SECRET_TOKEN_VERSION") {
		t.Errorf("unversioned secret: %v, want an ErrInput naming SECRET_TOKEN_VERSION", err)
	}
}

// TestRenderRoundTrip: what Render prints loads back to the same render
// (the render is itself a valid compose file).
func TestRenderRoundTrip(t *testing.T) {
	dir := writeRecipe(t, map[string]string{"compose.yml": "services:\n  app:\n    image: x\n    ports: [\"80:80\"]\n    deploy: {replicas: 2}\n    healthcheck: {test: curl x, interval: 90s}\n"})
	cfg, err := LoadConfig(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	if err := Render(&first, cfg); err != nil {
		t.Fatal(err)
	}
	again := writeRecipe(t, map[string]string{"compose.yml": first.String()})
	cfg2, err := LoadConfig(again, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var second bytes.Buffer
	if err := Render(&second, cfg2); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Errorf("render does not round-trip:\n%s\n---\n%s", first.String(), second.String())
	}
}

// TestExposeAllEnv: the app service gets every env variable it does not
// set itself (its own values win, even unset ones); other services none.
func TestExposeAllEnv(t *testing.T) {
	dir := writeRecipe(t, map[string]string{"compose.yml": "services:\n  app:\n    image: x\n    environment:\n      - A=own\n      - U\n  db:\n    image: y\n"})
	env := map[string]string{"A": "env", "B": "b", "STACK_NAME": "s"}
	cfg, err := LoadConfig(dir, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	ExposeAllEnv(cfg, env)
	str := func(v string) *string { return &v }
	want := composetypes.MappingWithEquals{"A": str("own"), "U": nil, "B": str("b"), "STACK_NAME": str("s")}
	if got := cfg.Services[0].Environment; !reflect.DeepEqual(got, want) {
		t.Errorf("app environment = %v, want %v", got, want)
	}
	if got := cfg.Services[1].Environment; len(got) != 0 {
		t.Errorf("db environment = %v, want none", got)
	}
}
