package compose

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
	"go.yaml.in/yaml/v3"
)

// ErrInput marks an error in the recipe or its env (bad YAML, an unknown
// key, a wrong type, ${X:?msg}, ...): callers test errors.Is(err,
// ErrInput) and exit 2. The message never contains ErrInput's own text.
var ErrInput = errors.New("invalid recipe input")

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInput }

func inputErrf(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

// defaultVersion is what docker assumes for a compose file without
// version (schema.defaultVersion in docker/cli 28).
const defaultVersion = "3.13"

// LoadConfig reads the recipe's compose files (Files(dir, env)) as docker
// stack deploy does and returns docker's types: each file parsed (YAML
// anchors, aliases and << merge keys resolved), its values interpolated
// from env alone (docker's template rules, then its type casts),
// validated, decoded with docker's transforms, relative paths made
// absolute against the first file's directory, then the files merged in
// order (mergeConfigs). warn gets one line per warning (a variable that
// is not set, an option swarm ignores, ...); nil discards them. Errors in
// the input wrap ErrInput and name the file and the key path.
func LoadConfig(dir string, env map[string]string, warn func(string)) (*composetypes.Config, error) {
	if warn == nil {
		warn = func(string) {}
	}
	// abra joins each COMPOSE_FILE entry to the recipe directory, so an
	// empty one (`COMPOSE_FILE="$COMPOSE_FILE:compose.x.yml"` with no
	// COMPOSE_FILE before it) names the directory and abra fails.
	if cf, ok := env["COMPOSE_FILE"]; ok && slices.Contains(strings.Split(cf, ":"), "") {
		return nil, inputErrf("%s: COMPOSE_FILE=%q has an empty entry (abra refuses it; did $COMPOSE_FILE expand to nothing?)", dir, cf)
	}
	files := Files(dir, env)
	first, err := filepath.Abs(files[0])
	if err != nil {
		return nil, err
	}
	l := &loader{workingDir: filepath.Dir(first), env: env, warn: warn}
	var configs []*composetypes.Config
	for _, f := range files {
		cfg, err := l.loadFile(f)
		if err != nil {
			return nil, err
		}
		configs = append(configs, cfg)
	}
	cfg, err := mergeConfigs(configs)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Services {
		if s.Image == "" {
			return nil, inputErrf("%s: invalid image reference for service %s: no image specified", strings.Join(files, "+"), s.Name)
		}
	}
	// One warning per service naming the keys swarm ignores in it, as
	// docker stack deploy warns (it names the keys only).
	ignored := map[string][]string{}
	for _, d := range l.dicts {
		for sn, s := range d {
			sd, _ := s.(map[string]any)
			for k, v := range sd {
				for _, what := range ignoredIn(k, v) {
					if !slices.Contains(ignored[sn], what) {
						ignored[sn] = append(ignored[sn], what)
					}
				}
			}
		}
	}
	for _, s := range cfg.Services {
		if s.Restart != "" && s.Deploy.RestartPolicy != nil {
			ignored[s.Name] = append(ignored[s.Name], "restart (deploy.restart_policy is used)")
		}
	}
	for _, sn := range slices.Sorted(maps.Keys(ignored)) {
		slices.Sort(ignored[sn])
		warn(fmt.Sprintf("service %s: ignoring %s: not used by docker stack deploy", sn, strings.Join(ignored[sn], ", ")))
	}
	return cfg, nil
}

// Files returns the compose files of the recipe in dir, as abra picks them:
// COMPOSE_FILE (":"-separated, relative to dir) when env sets it, else
// compose.yml.
func Files(dir string, env map[string]string) []string {
	names := []string{"compose.yml"}
	if cf := env["COMPOSE_FILE"]; cf != "" {
		names = strings.Split(cf, ":")
	}
	var paths []string
	for _, n := range names {
		if n == "" {
			continue
		}
		if !filepath.IsAbs(n) {
			n = filepath.Join(dir, n)
		}
		paths = append(paths, n)
	}
	return paths
}

// ignoredIn names what of service key k, with value v (interpolated),
// docker stack deploy does not deploy: the keys it warns about, and those
// it drops without a word (depends_on, tmpfs, a port's host IP, a
// network's fixed address), which ccci warns about too.
func ignoredIn(k string, v any) []string {
	switch k {
	case "restart": // converted when deploy.restart_policy is absent (swarm.restartPolicy)
		return nil
	case "container_name", "expose", "depends_on", "tmpfs":
		return []string{k}
	case "ports":
		var out []string
		for _, p := range asList(v) {
			if spec, ok := p.(string); ok {
				if ip, _, _ := splitPortParts(spec); ip != "" {
					out = append(out, "the host IP of port "+spec)
				}
			}
		}
		return out
	case "networks":
		var out []string
		nets, _ := v.(map[string]any)
		for _, n := range slices.Sorted(maps.Keys(nets)) {
			nc, _ := nets[n].(map[string]any)
			for _, a := range []string{"ipv4_address", "ipv6_address"} {
				if _, ok := nc[a]; ok {
					out = append(out, "networks."+n+"."+a)
				}
			}
		}
		return out
	}
	if slices.Contains(unsupportedKeys(), k) {
		return []string{k}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

// unsupportedKeys are the service keys docker stack deploy ignores with a
// warning (types.UnsupportedProperties).
func unsupportedKeys() []string {
	return []string{"build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links",
		"ipc", "links", "mac_address", "network_mode", "pid", "privileged", "restart", "security_opt",
		"shm_size", "userns_mode"}
}

// forbidden are the service keys docker stack deploy refuses
// (types.ForbiddenProperties), with docker's reason.
func forbidden(key string) string {
	switch key {
	case "extends":
		return "support for `extends` is not implemented"
	case "volume_driver":
		return "define a volume under the top-level volumes with its driver instead"
	case "volumes_from":
		return "share a volume through the top-level volumes instead"
	case "cpu_quota", "cpu_shares", "cpuset", "mem_limit", "memswap_limit":
		return "set resource limits under deploy.resources instead"
	}
	return ""
}

type loader struct {
	workingDir string
	env        map[string]string
	warn       func(string)
	version    string
	dicts      []map[string]any // each file's services, for the warnings
}

func (l *loader) lookup(k string) (string, bool) {
	v, ok := l.env[k]
	return v, ok
}

// loadFile is docker's Load for one file: parse, version check, forbidden
// keys, interpolation, validation, loadSections.
func (l *loader) loadFile(name string) (*composetypes.Config, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, inputErrf("%s: no such compose file", name)
		}
		return nil, err
	}
	dict, err := parseYAML(b)
	if err != nil {
		return nil, inputErrf("%s: %v", name, err)
	}
	version := defaultVersion
	if v, ok := dict["version"]; ok {
		version = fmt.Sprint(v)
		if version == "" || version == "3" {
			version = defaultVersion
		}
	}
	if l.version == "" {
		l.version = version
	}
	if version != l.version {
		return nil, inputErrf("%s: version %s does not match the first compose file's %s (docker requires one version)", name, version, l.version)
	}
	services, _ := dict["services"].(map[string]any)
	for _, sn := range slices.Sorted(maps.Keys(services)) {
		sd, _ := services[sn].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(sd)) {
			if why := forbidden(k); why != "" {
				return nil, inputErrf("%s: services.%s: %s is not supported by docker stack deploy: %s", name, sn, k, why)
			}
		}
	}
	warned := map[string]bool{}
	unset := func(v string) {
		if !warned[v] {
			warned[v] = true
			l.warn(fmt.Sprintf("%s: variable %s is not set, substituting an empty string", name, v))
		}
	}
	dict, err = interpolateDict(dict, l.lookup, unset)
	if err != nil {
		return nil, inputErrf("%s: %v", name, err)
	}
	if !supportedVersion(version) {
		return nil, inputErrf("%s: unsupported compose file version: %s", name, version)
	}
	// docker's schema: an unquoted `version: 3.8` is a number, refused.
	if v, ok := dict["version"]; ok {
		if _, ok := v.(string); !ok {
			return nil, inputErrf("%s: version must be a string (quote it: version: \"%v\")", name, v)
		}
	}
	if err := checkSchema(dict); err != nil {
		return nil, inputErrf("%s: %v", name, err)
	}
	cfg, err := l.loadSections(dict)
	if err != nil {
		return nil, inputErrf("%s: %v", name, err)
	}
	cfg.Filename = name
	services, _ = dict["services"].(map[string]any)
	l.dicts = append(l.dicts, services) // interpolated: a port's host IP may be ${IP}
	return cfg, nil
}

func supportedVersion(v string) bool {
	switch v {
	case "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13":
		return true
	}
	return false
}

// parseYAML is docker's loader.ParseYAML: the file as a generic tree whose
// top level must be a mapping.
func parseYAML(b []byte) (map[string]any, error) {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("top-level object must be a mapping")
	}
	return m, nil
}

func (l *loader) loadSections(dict map[string]any) (*composetypes.Config, error) {
	cfg := &composetypes.Config{Version: l.version}
	for _, k := range slices.Sorted(maps.Keys(dict)) {
		switch k {
		case "version", "services", "networks", "volumes", "secrets", "configs":
		default:
			if !strings.HasPrefix(k, "x-") {
				return nil, fmt.Errorf("unsupported top-level key %q", k)
			}
		}
	}
	section := func(k string) (map[string]any, error) {
		v, ok := dict[k]
		if !ok || v == nil {
			return map[string]any{}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a mapping, got %s", k, kindName(v))
		}
		return m, nil
	}
	services, err := section("services")
	if err != nil {
		return nil, err
	}
	cfg.Services = make(composetypes.Services, 0, len(services))
	for _, name := range slices.Sorted(maps.Keys(services)) {
		s, err := l.loadService(name, services[name])
		if err != nil {
			return nil, err
		}
		cfg.Services = append(cfg.Services, *s)
	}
	networks, err := section("networks")
	if err != nil {
		return nil, err
	}
	if err := decode("networks", networks, reflect.ValueOf(&cfg.Networks).Elem()); err != nil {
		return nil, err
	}
	for name, n := range cfg.Networks {
		if !n.External.External {
			continue
		}
		switch {
		case n.External.Name != "":
			if n.Name != "" {
				return nil, fmt.Errorf("network %s: network.external.name and network.name conflict; only use network.name", name)
			}
			l.warn(fmt.Sprintf("network %s: network.external.name is deprecated in favor of network.name", name))
			n.Name, n.External.Name = n.External.Name, ""
		case n.Name == "":
			n.Name = name
		}
		n.Extras = extrasOf(networks[name])
		cfg.Networks[name] = n
	}
	volumes, err := section("volumes")
	if err != nil {
		return nil, err
	}
	if err := decode("volumes", volumes, reflect.ValueOf(&cfg.Volumes).Elem()); err != nil {
		return nil, err
	}
	for name, v := range cfg.Volumes {
		if !v.External.External {
			continue
		}
		switch {
		case v.Driver != "":
			return nil, fmt.Errorf("volume %s: external and driver conflict", name)
		case len(v.DriverOpts) > 0:
			return nil, fmt.Errorf("volume %s: external and driver_opts conflict", name)
		case len(v.Labels) > 0:
			return nil, fmt.Errorf("volume %s: external and labels conflict", name)
		case v.External.Name != "":
			if v.Name != "" {
				return nil, fmt.Errorf("volume %s: volume.external.name and volume.name conflict; only use volume.name", name)
			}
			l.warn(fmt.Sprintf("volume %s: volume.external.name is deprecated in favor of volume.name", name))
			v.Name, v.External.Name = v.External.Name, ""
		case v.Name == "":
			v.Name = name
		}
		v.Extras = extrasOf(volumes[name])
		cfg.Volumes[name] = v
	}
	secrets, err := section("secrets")
	if err != nil {
		return nil, err
	}
	if err := decode("secrets", secrets, reflect.ValueOf(&cfg.Secrets).Elem()); err != nil {
		return nil, err
	}
	for name, s := range cfg.Secrets {
		obj, err := l.fileObject(name, "secret", composetypes.FileObjectConfig(s))
		if err != nil {
			return nil, err
		}
		obj.Extras = extrasOf(secrets[name])
		cfg.Secrets[name] = composetypes.SecretConfig(obj)
	}
	configs, err := section("configs")
	if err != nil {
		return nil, err
	}
	if err := decode("configs", configs, reflect.ValueOf(&cfg.Configs).Elem()); err != nil {
		return nil, err
	}
	for name, c := range cfg.Configs {
		obj, err := l.fileObject(name, "config", composetypes.FileObjectConfig(c))
		if err != nil {
			return nil, err
		}
		obj.Extras = extrasOf(configs[name])
		cfg.Configs[name] = composetypes.ConfigObjConfig(obj)
	}
	cfg.Extras = extrasOf(dict)
	return cfg, nil
}

// fileObject is docker's loadFileObjectConfig.
func (l *loader) fileObject(name, kind string, obj composetypes.FileObjectConfig) (composetypes.FileObjectConfig, error) {
	switch {
	case obj.External.External:
		if obj.External.Name != "" {
			if obj.Name != "" {
				return obj, fmt.Errorf("%[1]s %[2]s: %[1]s.external.name and %[1]s.name conflict; only use %[1]s.name", kind, name)
			}
			l.warn(fmt.Sprintf("%[1]s %[2]s: %[1]s.external.name is deprecated in favor of %[1]s.name", kind, name))
			obj.Name, obj.External.Name = obj.External.Name, ""
		} else if obj.Name == "" {
			obj.Name = name
		}
	case obj.Driver != "":
		if obj.File != "" {
			return obj, fmt.Errorf("%[1]s %[2]s: %[1]s.driver and %[1]s.file conflict; only use %[1]s.driver", kind, name)
		}
	default:
		obj.File = absPath(l.workingDir, obj.File)
	}
	return obj, nil
}

func (l *loader) loadService(name string, def any) (*composetypes.ServiceConfig, error) {
	path := "services." + name
	sd, ok := def.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping, got %s", path, kindName(def))
	}
	s := &composetypes.ServiceConfig{}
	if err := decode(path, sd, reflect.ValueOf(s).Elem()); err != nil {
		return nil, err
	}
	s.Name = name
	env := map[string]*string{}
	if len(s.EnvFile) > 0 {
		vars := map[string]*string{}
		for _, f := range s.EnvFile {
			if err := readDockerEnvFile(absPath(l.workingDir, f), vars); err != nil {
				return nil, fmt.Errorf("%s.env_file: %v", path, err)
			}
		}
		l.updateEnvironment(env, vars)
	}
	l.updateEnvironment(env, s.Environment)
	s.Environment = env
	for i, v := range s.Volumes {
		if v.Type != "bind" {
			continue
		}
		if v.Source == "" {
			return nil, fmt.Errorf("%s.volumes[%d]: invalid mount config for type \"bind\": field Source must not be empty", path, i)
		}
		src := v.Source
		if strings.HasPrefix(src, "~") {
			if home, ok := l.lookup("HOME"); ok {
				src = strings.Replace(src, "~", home, 1)
			} else {
				l.warn(fmt.Sprintf("%s.volumes[%d]: cannot expand '~', because the environment lacks HOME", path, i))
			}
		}
		if !isAbsPath(src) {
			src = absPath(l.workingDir, src)
		}
		s.Volumes[i].Source = src
	}
	s.Extras = extrasOf(sd)
	return s, nil
}

// isAbsPath is docker's check: absolute as a Unix or a Windows path.
func isAbsPath(p string) bool {
	if path.IsAbs(p) {
		return true
	}
	if strings.HasPrefix(p, `\\`) {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z')
}

// updateEnvironment is docker's: a variable without a value, or with an
// empty one, takes its value from the env when the env has it.
func (l *loader) updateEnvironment(env, vars map[string]*string) {
	for k, v := range vars {
		if (v == nil || *v == "") && l.env != nil {
			if ev, ok := l.env[k]; ok {
				env[k] = &ev
				continue
			}
		}
		env[k] = v
	}
}

// readDockerEnvFile reads a service's env_file as docker's
// opts.ParseEnvFile: KEY=VALUE lines verbatim, # comments and blank lines
// skipped, a KEY alone left for the environment to fill.
func readDockerEnvFile(name string, vars map[string]*string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if n == 1 {
			line = strings.TrimPrefix(line, "\xEF\xBB\xBF")
		}
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("%s:%d: variable %q contains whitespaces", name, n, k)
		}
		if ok {
			vars[k] = &v
		} else {
			vars[k] = nil
		}
	}
	return sc.Err()
}

func absPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func extrasOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	var extras map[string]any
	for k, val := range m {
		if strings.HasPrefix(k, "x-") {
			if extras == nil {
				extras = map[string]any{}
			}
			extras[k] = val
		}
	}
	return extras
}

// Render writes cfg as `docker stack config` prints it: YAML, indented by
// two spaces, through the types' own MarshalYAML methods.
func Render(w io.Writer, cfg *composetypes.Config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&cfg); err != nil {
		return err
	}
	return enc.Close()
}

// interpolateDict substitutes variables in every string value of a
// compose file (not in keys) as docker's interpolation package does, and
// casts the values of typed fields that changed (castFor).
func interpolateDict(dict map[string]any, lookup func(string) (string, bool), unset func(string)) (map[string]any, error) {
	out := make(map[string]any, len(dict))
	for _, k := range slices.Sorted(maps.Keys(dict)) {
		v, err := interpolateValue(dict[k], []string{k}, lookup, unset)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func interpolateValue(v any, path []string, lookup func(string) (string, bool), unset func(string)) (any, error) {
	switch v := v.(type) {
	case string:
		s, err := substitute(v, lookup, unset)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(path, "."), err)
		}
		if s == v {
			return v, nil
		}
		cast := castFor(path)
		if cast == nil {
			return s, nil
		}
		c, err := cast(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %v", strings.Join(path, "."), s, err)
		}
		return c, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			e, err := interpolateValue(v[k], append(path[:len(path):len(path)], k), lookup, unset)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = interpolateValue(e, append(path[:len(path):len(path)], "[]"), lookup, unset); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// castFor is docker's interpolateTypeCastMapping: the type an
// interpolated value at path becomes. "*" matches any key, "[]" a list
// entry.
func castFor(path []string) func(string) (any, error) {
	toInt := func(s string) (any, error) { return strconv.Atoi(s) }
	toFloat := func(s string) (any, error) { return strconv.ParseFloat(s, 64) }
	for _, c := range []struct {
		pattern string
		cast    func(string) (any, error)
	}{
		{"services.*.configs.[].mode", toInt},
		{"services.*.secrets.[].mode", toInt},
		{"services.*.healthcheck.retries", toInt},
		{"services.*.healthcheck.disable", toBoolean},
		{"services.*.deploy.replicas", toInt},
		{"services.*.deploy.update_config.parallelism", toInt},
		{"services.*.deploy.update_config.max_failure_ratio", toFloat},
		{"services.*.deploy.rollback_config.parallelism", toInt},
		{"services.*.deploy.rollback_config.max_failure_ratio", toFloat},
		{"services.*.deploy.restart_policy.max_attempts", toInt},
		{"services.*.deploy.placement.max_replicas_per_node", toInt},
		{"services.*.ports.[].target", toInt},
		{"services.*.ports.[].published", toInt},
		{"services.*.ulimits.*", toInt},
		{"services.*.ulimits.*.hard", toInt},
		{"services.*.ulimits.*.soft", toInt},
		{"services.*.privileged", toBoolean},
		{"services.*.oom_score_adj", toInt},
		{"services.*.read_only", toBoolean},
		{"services.*.stdin_open", toBoolean},
		{"services.*.tty", toBoolean},
		{"services.*.volumes.[].read_only", toBoolean},
		{"services.*.volumes.[].volume.nocopy", toBoolean},
		{"networks.*.external", toBoolean},
		{"networks.*.internal", toBoolean},
		{"networks.*.attachable", toBoolean},
		{"volumes.*.external", toBoolean},
		{"secrets.*.external", toBoolean},
		{"configs.*.external", toBoolean},
	} {
		if pathMatches(path, c.pattern) {
			return c.cast
		}
	}
	return nil
}

func pathMatches(path []string, pattern string) bool {
	parts := strings.Split(pattern, ".")
	if len(parts) != len(path) {
		return false
	}
	for i, p := range parts {
		if p != "*" && p != path[i] {
			return false
		}
	}
	return true
}

// toBoolean is docker's: the YAML 1.1 booleans, any case.
func toBoolean(s string) (any, error) {
	switch strings.ToLower(s) {
	case "y", "yes", "true", "on":
		return true, nil
	case "n", "no", "false", "off":
		return false, nil
	}
	return nil, fmt.Errorf("invalid boolean: %s", s)
}
