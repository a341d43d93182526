package compose

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	composetypes "github.com/docker/cli/cli/compose/types"
	units "github.com/docker/go-units"
)

type transformFunc func(any) (any, error)

// transformFor returns docker's transform hook for a target type
// (loader.createTransformHook), nil if there is none. A switch, not a map
// built at package init, so that loading nothing costs nothing.
func transformFor(t reflect.Type) transformFunc {
	switch t {
	case reflect.TypeFor[composetypes.External]():
		return transformExternal
	case reflect.TypeFor[composetypes.HealthCheckTest]():
		return transformHealthCheckTest
	case reflect.TypeFor[composetypes.ShellCommand]():
		return transformShellCommand
	case reflect.TypeFor[composetypes.StringList]():
		return transformStringList
	case reflect.TypeFor[map[string]string]():
		return transformMapStringString
	case reflect.TypeFor[composetypes.UlimitsConfig]():
		return transformUlimits
	case reflect.TypeFor[composetypes.UnitBytes]():
		return transformSize
	case reflect.TypeFor[[]composetypes.ServicePortConfig]():
		return transformServicePort
	case reflect.TypeFor[composetypes.ServiceSecretConfig](), reflect.TypeFor[composetypes.ServiceConfigObjConfig]():
		return transformStringSourceMap
	case reflect.TypeFor[composetypes.StringOrNumberList]():
		return transformStringOrNumberList
	case reflect.TypeFor[map[string]*composetypes.ServiceNetworkConfig]():
		return transformServiceNetworkMap
	case reflect.TypeFor[composetypes.Mapping](), reflect.TypeFor[composetypes.Labels]():
		return mappingOrList("=", false)
	case reflect.TypeFor[composetypes.MappingWithEquals]():
		return mappingOrList("=", true)
	case reflect.TypeFor[composetypes.MappingWithColon]():
		return mappingOrList(":", false)
	case reflect.TypeFor[composetypes.HostsList]():
		return transformHostsList
	case reflect.TypeFor[composetypes.ServiceVolumeConfig]():
		return transformServiceVolumeConfig
	case reflect.TypeFor[composetypes.BuildConfig]():
		return transformBuildConfig
	case reflect.TypeFor[composetypes.Duration]():
		return transformDuration
	}
	return nil
}

func transformExternal(data any) (any, error) {
	switch v := data.(type) {
	case bool:
		return map[string]any{"external": v}, nil
	case map[string]any:
		return map[string]any{"external": true, "name": v["name"]}, nil
	}
	return nil, fmt.Errorf("invalid type %s for external", kindName(data))
}

func transformHealthCheckTest(data any) (any, error) {
	switch v := data.(type) {
	case string:
		return []string{"CMD-SHELL", v}, nil
	case []any:
		return v, nil
	}
	return nil, fmt.Errorf("invalid type %s for healthcheck.test", kindName(data))
}

func transformShellCommand(data any) (any, error) {
	if s, ok := data.(string); ok {
		return shlexSplit(s)
	}
	return data, nil
}

func transformStringList(data any) (any, error) {
	switch v := data.(type) {
	case string:
		return []string{v}, nil
	case []any:
		return v, nil
	}
	return nil, fmt.Errorf("invalid type %s for a string list", kindName(data))
}

func transformMapStringString(data any) (any, error) {
	if m, ok := data.(map[string]any); ok {
		return toMapStringString(m, false), nil
	}
	return nil, fmt.Errorf("invalid type %s for a mapping of strings", kindName(data))
}

func transformUlimits(data any) (any, error) {
	switch v := data.(type) {
	case int:
		return composetypes.UlimitsConfig{Single: v}, nil
	case map[string]any:
		soft, ok1 := v["soft"].(int)
		hard, ok2 := v["hard"].(int)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("ulimit wants integer soft and hard")
		}
		return composetypes.UlimitsConfig{Soft: soft, Hard: hard}, nil
	}
	return nil, fmt.Errorf("invalid type %s for ulimits", kindName(data))
}

func transformSize(data any) (any, error) {
	switch v := data.(type) {
	case int:
		return composetypes.UnitBytes(v), nil
	case string:
		n, err := units.RAMInBytes(v)
		return composetypes.UnitBytes(n), err
	}
	return nil, fmt.Errorf("invalid type %s for a size", kindName(data))
}

func transformServicePort(data any) (any, error) {
	entries, ok := data.([]any)
	if !ok {
		return nil, fmt.Errorf("invalid type %s for ports", kindName(data))
	}
	ports := []any{}
	for _, e := range entries {
		switch v := e.(type) {
		case int:
			p, err := parsePortSpec(strconv.Itoa(v))
			if err != nil {
				return nil, err
			}
			ports = append(ports, p...)
		case string:
			p, err := parsePortSpec(v)
			if err != nil {
				return nil, err
			}
			ports = append(ports, p...)
		case map[string]any:
			ports = append(ports, v)
		default:
			return nil, fmt.Errorf("invalid type %s for a port", kindName(e))
		}
	}
	return ports, nil
}

func transformStringSourceMap(data any) (any, error) {
	switch v := data.(type) {
	case string:
		return map[string]any{"source": v}, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("invalid type %s for a secret or config", kindName(data))
}

func transformBuildConfig(data any) (any, error) {
	switch v := data.(type) {
	case string:
		return map[string]any{"context": v}, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("invalid type %s for build", kindName(data))
}

func transformServiceVolumeConfig(data any) (any, error) {
	switch v := data.(type) {
	case string:
		return parseVolume(v)
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("invalid type %s for a service volume", kindName(data))
}

func transformServiceNetworkMap(data any) (any, error) {
	if l, ok := data.([]any); ok {
		m := map[any]any{}
		for _, name := range l {
			m[name] = nil
		}
		return m, nil
	}
	return data, nil
}

func transformStringOrNumberList(data any) (any, error) {
	l, ok := data.([]any)
	if !ok {
		return nil, fmt.Errorf("invalid type %s for a list", kindName(data))
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = fmt.Sprint(e)
	}
	return out, nil
}

func transformHostsList(data any) (any, error) {
	hl, err := listOrMapping(data, ":", false, []string{"=", ":"})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(hl))
	for _, hip := range hl {
		host, ip, _ := strings.Cut(hip, ":")
		if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
			ip = ip[1 : len(ip)-1]
		}
		out = append(out, host+":"+ip)
	}
	return out, nil
}

func transformDuration(data any) (any, error) {
	s, ok := data.(string)
	if !ok {
		return nil, fmt.Errorf("invalid type %s for a duration (want e.g. \"10s\")", kindName(data))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, err
	}
	return composetypes.Duration(d), nil
}

// listOrMapping is docker's transformListOrMapping: pairs as a map, or a
// list of strings split at the first of allowSeps, into sep-joined strings.
func listOrMapping(data any, sep string, allowNil bool, allowSeps []string) ([]string, error) {
	switch v := data.(type) {
	case map[string]any:
		out := []string{}
		for k, val := range v {
			if val == nil && !allowNil {
				continue
			}
			out = append(out, fmt.Sprintf("%s%s%s", k, sep, val))
		}
		slices.Sort(out)
		return out, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			entry := fmt.Sprint(e)
			for i, s := range allowSeps {
				if k, val, ok := strings.Cut(entry, s); ok {
					out = append(out, k+sep+val)
					break
				} else if i == len(allowSeps)-1 && allowNil {
					out = append(out, k)
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a mapping or a list, got %s", kindName(data))
}

// mappingOrList is docker's transformMappingOrList: a map (values made
// strings) or a list of KEY<sep>VALUE; a KEY alone is nil (allowNil) or "".
func mappingOrList(sep string, allowNil bool) transformFunc {
	return func(data any) (any, error) {
		switch v := data.(type) {
		case map[string]any:
			return toMapStringString(v, allowNil), nil
		case []any:
			out := map[string]any{}
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("list entry %v: want a string", e)
				}
				key, val, has := strings.Cut(s, sep)
				switch {
				case !has && allowNil:
					out[key] = nil
				case !has:
					out[key] = ""
				default:
					out[key] = val
				}
			}
			return out, nil
		}
		return nil, fmt.Errorf("want a mapping or a list, got %s", kindName(data))
	}
}

func toMapStringString(m map[string]any, allowNil bool) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case v != nil:
			out[k] = fmt.Sprint(v)
		case allowNil:
			out[k] = nil
		default:
			out[k] = ""
		}
	}
	return out
}
