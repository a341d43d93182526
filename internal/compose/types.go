package compose

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Project is a recipe's compose files, merged and interpolated. Keys not
// listed here (ports, build, ...) are ignored, as docker stack deploy
// ignores what swarm cannot do.
type Project struct {
	Dir      string   // the recipe directory
	Files    []string // the compose files read, in merge order
	Services map[string]*Service
	Networks map[string]*Network
	Volumes  map[string]*Volume
	Secrets  map[string]*Secret
	Configs  map[string]*Config
}

// ServiceNames returns the services' names, sorted, so every walk over a
// project is deterministic.
func (p *Project) ServiceNames() []string { return slices.Sorted(maps.Keys(p.Services)) }

// Service is one services.<name> entry.
type Service struct {
	Name            string          `yaml:"-"`
	Image           string          `yaml:"image"`
	Command         ShellCommand    `yaml:"command"`
	Entrypoint      ShellCommand    `yaml:"entrypoint"`
	Environment     Mapping         `yaml:"environment"`
	Labels          Mapping         `yaml:"labels"`
	Deploy          Deploy          `yaml:"deploy"`
	Healthcheck     *Healthcheck    `yaml:"healthcheck"`
	Volumes         []ServiceVolume `yaml:"volumes"`
	Secrets         []FileRef       `yaml:"secrets"`
	Configs         []FileRef       `yaml:"configs"`
	Networks        ServiceNetworks `yaml:"networks"`
	StopGracePeriod *Duration       `yaml:"stop_grace_period"`
	User            string          `yaml:"user"`
	WorkingDir      string          `yaml:"working_dir"`
	Hostname        string          `yaml:"hostname"`
}

// Deploy is services.<name>.deploy.
type Deploy struct {
	Mode           string         `yaml:"mode"` // replicated (default) or global
	Replicas       *uint64        `yaml:"replicas"`
	Labels         Mapping        `yaml:"labels"`
	RestartPolicy  *RestartPolicy `yaml:"restart_policy"`
	UpdateConfig   *UpdateConfig  `yaml:"update_config"`
	RollbackConfig *UpdateConfig  `yaml:"rollback_config"`
	Resources      Resources      `yaml:"resources"`
	Placement      struct {
		Constraints []string `yaml:"constraints"`
	} `yaml:"placement"`
	EndpointMode string `yaml:"endpoint_mode"`
}

// RestartPolicy is deploy.restart_policy.
type RestartPolicy struct {
	Condition   string    `yaml:"condition"`
	Delay       *Duration `yaml:"delay"`
	MaxAttempts *uint64   `yaml:"max_attempts"`
	Window      *Duration `yaml:"window"`
}

// UpdateConfig is deploy.update_config or deploy.rollback_config.
type UpdateConfig struct {
	Parallelism     *uint64   `yaml:"parallelism"`
	Delay           *Duration `yaml:"delay"`
	FailureAction   string    `yaml:"failure_action"`
	Monitor         *Duration `yaml:"monitor"`
	MaxFailureRatio float32   `yaml:"max_failure_ratio"`
	Order           string    `yaml:"order"`
}

// Resources is deploy.resources.
type Resources struct {
	Limits       *Resource `yaml:"limits"`
	Reservations *Resource `yaml:"reservations"`
}

// Resource is a cpus/memory pair: cpus "0.5", memory "512M".
type Resource struct {
	CPUs   string `yaml:"cpus"`
	Memory string `yaml:"memory"`
}

// Healthcheck is services.<name>.healthcheck.
type Healthcheck struct {
	Test        ShellCommand `yaml:"test"`
	Interval    *Duration    `yaml:"interval"`
	Timeout     *Duration    `yaml:"timeout"`
	StartPeriod *Duration    `yaml:"start_period"`
	Retries     *uint64      `yaml:"retries"`
	Disable     bool         `yaml:"disable"`
}

// Network is a top-level networks entry.
type Network struct {
	Name       string            `yaml:"name"`
	External   bool              `yaml:"external"`
	Driver     string            `yaml:"driver"`
	DriverOpts map[string]string `yaml:"driver_opts"`
	Attachable bool              `yaml:"attachable"`
	Internal   bool              `yaml:"internal"`
	Labels     Mapping           `yaml:"labels"`
}

// Volume is a top-level volumes entry.
type Volume struct {
	Name       string            `yaml:"name"`
	External   bool              `yaml:"external"`
	Driver     string            `yaml:"driver"`
	DriverOpts map[string]string `yaml:"driver_opts"`
	Labels     Mapping           `yaml:"labels"`
}

// Secret is a top-level secrets entry; Config a top-level configs entry.
// File is made absolute (relative to the recipe directory) by Load.
type Secret struct {
	Name     string  `yaml:"name"`
	External bool    `yaml:"external"`
	File     string  `yaml:"file"`
	Labels   Mapping `yaml:"labels"`
}

// Config is a top-level configs entry.
type Config = Secret

// ServiceVolume is one entry of services.<name>.volumes, short
// ("data:/data:ro") or long syntax.
type ServiceVolume struct {
	Type     string `yaml:"type"` // volume, bind or tmpfs
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
}

// FileRef is one entry of services.<name>.secrets or .configs: a name, or
// {source, target, uid, gid, mode}.
type FileRef struct {
	Source string  `yaml:"source"`
	Target string  `yaml:"target"`
	UID    string  `yaml:"uid"`
	GID    string  `yaml:"gid"`
	Mode   *uint32 `yaml:"mode"`
}

// ServiceNetwork is a service's attachment to a network.
type ServiceNetwork struct {
	Aliases []string `yaml:"aliases"`
}

// ServiceNetworks is services.<name>.networks: a list of names or a map.
type ServiceNetworks map[string]*ServiceNetwork

// Mapping is a KEY=VALUE list or a map; a list entry without '=' (taken from
// the environment) is resolved by Load and dropped when unset, as docker
// stack deploy does.
type Mapping map[string]*string

// ShellCommand is a string (split shell-style) or a list.
type ShellCommand []string

// Duration is a compose duration: "1m30s", or plain seconds.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration", n.Line)
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (m *Mapping) UnmarshalYAML(n *yaml.Node) error {
	out := Mapping{}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, e := range n.Content {
			k, v, ok := strings.Cut(e.Value, "=")
			if ok {
				out[k] = &v
			} else {
				out[k] = nil
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if v.Tag == "!!null" {
				out[k] = nil
				continue
			}
			s := v.Value
			out[k] = &s
		}
	default:
		return fmt.Errorf("line %d: want a list of KEY=VALUE or a map", n.Line)
	}
	*m = out
	return nil
}

func (c *ShellCommand) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*c = strings.Fields(n.Value)
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*c = l
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list", n.Line)
}

func (v *ServiceVolume) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		type plain ServiceVolume
		if err := n.Decode((*plain)(v)); err != nil {
			return err
		}
		if v.Type == "" {
			v.Type = volumeType(v.Source)
		}
		return nil
	}
	parts := strings.Split(n.Value, ":")
	switch len(parts) {
	case 1:
		*v = ServiceVolume{Type: "volume", Target: parts[0]}
	case 2, 3:
		*v = ServiceVolume{Type: volumeType(parts[0]), Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				if o == "ro" {
					v.ReadOnly = true
				}
			}
		}
	default:
		return fmt.Errorf("line %d: invalid volume %q", n.Line, n.Value)
	}
	return nil
}

// volumeType tells a bind mount (a path) from a named volume.
func volumeType(source string) string {
	if strings.HasPrefix(source, "/") || strings.HasPrefix(source, ".") || strings.HasPrefix(source, "~") {
		return "bind"
	}
	return "volume"
}

func (f *FileRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*f = FileRef{Source: n.Value}
		return nil
	}
	type plain FileRef
	return n.Decode((*plain)(f))
}

func (s *ServiceNetworks) UnmarshalYAML(n *yaml.Node) error {
	out := ServiceNetworks{}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, e := range n.Content {
			out[e.Value] = nil
		}
	case yaml.MappingNode:
		var m map[string]*ServiceNetwork
		if err := n.Decode(&m); err != nil {
			return err
		}
		out = m
	default:
		return fmt.Errorf("line %d: want a list or a map of networks", n.Line)
	}
	*s = out
	return nil
}
