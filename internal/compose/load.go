package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// file is the top level of one compose file.
type file struct {
	Version  string              `yaml:"version"`
	Services map[string]*Service `yaml:"services"`
	Networks map[string]*Network `yaml:"networks"`
	Volumes  map[string]*Volume  `yaml:"volumes"`
	Secrets  map[string]*Secret  `yaml:"secrets"`
	Configs  map[string]*Config  `yaml:"configs"`
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

// Load reads the recipe in dir: its compose files (see Files), each
// interpolated with env alone (not the process environment: a CI run must
// not depend on who runs it), then merged in order, later files winning.
// Errors name the file and line.
func Load(dir string, env map[string]string) (*Project, error) {
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	p := &Project{Dir: dir, Files: Files(dir, env)}
	var merged *yaml.Node
	for _, path := range p.Files {
		root, err := readFile(path, lookup)
		if err != nil {
			return nil, err
		}
		// Decode each file alone too, so a type error names its file.
		var f file
		if err := root.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %v", path, yamlErr(err))
		}
		if merged == nil {
			merged = root
		} else {
			merge(merged, root)
		}
	}
	var f file
	if err := merged.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", strings.Join(p.Files, "+"), yamlErr(err))
	}
	p.Services, p.Networks, p.Volumes, p.Secrets, p.Configs = f.Services, f.Networks, f.Volumes, f.Secrets, f.Configs
	if err := p.finish(lookup); err != nil {
		return nil, fmt.Errorf("%s: %v", p.Files[0], err)
	}
	return p, nil
}

// readFile parses one compose file and interpolates its values.
func readFile(path string, lookup func(string) (string, bool)) (*yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, yamlErr(err))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a compose file (want a mapping at the top level)", path)
	}
	root := doc.Content[0]
	if err := interpolateNode(root, lookup); err != nil {
		return nil, fmt.Errorf("%s:%v", path, err)
	}
	return root, nil
}

// interpolateNode substitutes variables in every scalar value (never in
// keys, as compose). A plain scalar that changed loses its resolved tag, so
// `replicas: ${N}` decodes as the number it became.
func interpolateNode(n *yaml.Node, lookup func(string) (string, bool)) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := Interpolate(n.Value, lookup)
		if err != nil {
			return fmt.Errorf("%d: %v", n.Line, err)
		}
		if v != n.Value {
			n.Value = v
			if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = ""
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := interpolateNode(n.Content[i], lookup); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := interpolateNode(c, lookup); err != nil {
				return err
			}
		}
	case yaml.AliasNode:
		// The anchor it points to is interpolated where it is defined.
	}
	return nil
}

// merge folds src into dst: mappings merge key by key, sequences append
// (entries equal to one already there are skipped), anything else is
// replaced. That covers what Co-op Cloud override files do (add
// environment, labels, secrets, volumes, services); it is not the whole of
// compose's per-key merge rules.
func merge(dst, src *yaml.Node) {
	if dst.Kind != src.Kind || dst.Kind == yaml.ScalarNode || dst.Kind == yaml.AliasNode {
		*dst = *src
		return
	}
	switch dst.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(src.Content); i += 2 {
			k, v := src.Content[i], src.Content[i+1]
			if j := keyIndex(dst, k.Value); j >= 0 {
				merge(dst.Content[j+1], v)
			} else {
				dst.Content = append(dst.Content, k, v)
			}
		}
	case yaml.SequenceNode:
		for _, e := range src.Content {
			if e.Kind != yaml.ScalarNode || !hasScalar(dst, e.Value) {
				dst.Content = append(dst.Content, e)
			}
		}
	}
}

func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func hasScalar(seq *yaml.Node, v string) bool {
	for _, e := range seq.Content {
		if e.Kind == yaml.ScalarNode && e.Value == v {
			return true
		}
	}
	return false
}

// yamlErr trims the "yaml: " prefix and joins unmarshal errors on one line.
func yamlErr(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// finish fills names and defaults, resolves environment entries without a
// value from lookup, makes file paths absolute, and checks that what
// services use is declared.
func (p *Project) finish(lookup func(string) (string, bool)) error {
	if len(p.Services) == 0 {
		return fmt.Errorf("no services")
	}
	fill(&p.Networks)
	fill(&p.Volumes)
	fill(&p.Secrets)
	fill(&p.Configs)
	for _, m := range []map[string]*Secret{p.Secrets, p.Configs} {
		for _, s := range m {
			if s.File != "" && !filepath.IsAbs(s.File) {
				s.File = filepath.Join(p.Dir, s.File)
			}
		}
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s == nil {
			return fmt.Errorf("service %s: empty", name)
		}
		s.Name = name
		if s.Image == "" {
			return fmt.Errorf("service %s: no image", name)
		}
		for k, v := range s.Environment {
			if v == nil {
				if val, ok := lookup(k); ok {
					s.Environment[k] = &val
				} else {
					delete(s.Environment, k)
				}
			}
		}
		if err := p.checkRefs(s); err != nil {
			return fmt.Errorf("service %s: %v", name, err)
		}
	}
	return nil
}

func (p *Project) checkRefs(s *Service) error {
	for _, v := range s.Volumes {
		if v.Type == "volume" && v.Source != "" && p.Volumes[v.Source] == nil {
			return fmt.Errorf("volume %q is not declared under top-level volumes", v.Source)
		}
		if v.Target == "" {
			return fmt.Errorf("volume %q has no target", v.Source)
		}
	}
	for _, r := range s.Secrets {
		if p.Secrets[r.Source] == nil {
			return fmt.Errorf("secret %q is not declared under top-level secrets", r.Source)
		}
	}
	for _, r := range s.Configs {
		if p.Configs[r.Source] == nil {
			return fmt.Errorf("config %q is not declared under top-level configs", r.Source)
		}
	}
	for n := range s.Networks {
		if n != "default" && p.Networks[n] == nil {
			return fmt.Errorf("network %q is not declared under top-level networks", n)
		}
	}
	return nil
}

// fill makes a nil map empty and nil entries (`data:` with no body) zero
// values, so callers never check for nil.
func fill[T any](m *map[string]*T) {
	if *m == nil {
		*m = map[string]*T{}
	}
	for k, v := range *m {
		if v == nil {
			(*m)[k] = new(T)
		}
	}
}
