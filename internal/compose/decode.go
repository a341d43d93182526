package compose

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// decode fills out from in (a value of the generic YAML tree) as docker's
// loader does with mapstructure and its transform hooks (loader.Transform):
// keys match a field's mapstructure tag, else its name case-insensitively;
// the transform for the target type runs first; numbers convert between
// kinds, nothing converts to or from a string. Unlike mapstructure, a key
// that matches no field is an error (docker's JSON schema rejects those
// before mapstructure would ignore them), except where the schema accepts
// it: x-* keys where it allows them (extensible), any key in a mapping it
// leaves open (openMapping), and the few keys docker never decodes. path
// names the value in errors (services.app.deploy.replicas).
func decode(path string, in any, out reflect.Value) error {
	if in == nil {
		return nil
	}
	if tf := transformFor(out.Type()); tf != nil {
		v, err := tf(in)
		if err != nil {
			return inputErrf("%s: %v", path, err)
		}
		in = v
		if in == nil {
			return nil
		}
	}
	iv := reflect.ValueOf(in)
	if iv.Type() == out.Type() {
		out.Set(iv)
		return nil
	}
	switch out.Kind() {
	case reflect.Interface:
		out.Set(iv)
	case reflect.String:
		s, ok := in.(string)
		if !ok {
			return typeErr(path, "a string", in)
		}
		out.SetString(s)
	case reflect.Bool:
		b, ok := in.(bool)
		if !ok {
			return typeErr(path, "a boolean", in)
		}
		out.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch iv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out.SetInt(iv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out.SetInt(int64(iv.Uint()))
		case reflect.Float32, reflect.Float64:
			out.SetInt(int64(iv.Float()))
		default:
			return typeErr(path, "an integer", in)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch iv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if iv.Int() < 0 {
				return inputErrf("%s: %d is negative", path, iv.Int())
			}
			out.SetUint(uint64(iv.Int()))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out.SetUint(iv.Uint())
		case reflect.Float32, reflect.Float64:
			if iv.Float() < 0 {
				return inputErrf("%s: %v is negative", path, iv.Float())
			}
			out.SetUint(uint64(iv.Float()))
		default:
			return typeErr(path, "a non-negative integer", in)
		}
	case reflect.Float32, reflect.Float64:
		switch iv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out.SetFloat(float64(iv.Int()))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out.SetFloat(float64(iv.Uint()))
		case reflect.Float32, reflect.Float64:
			out.SetFloat(iv.Float())
		default:
			return typeErr(path, "a number", in)
		}
	case reflect.Pointer:
		p := reflect.New(out.Type().Elem())
		if err := decode(path, in, p.Elem()); err != nil {
			return err
		}
		out.Set(p)
	case reflect.Slice:
		if iv.Kind() != reflect.Slice {
			return typeErr(path, "a list", in)
		}
		s := reflect.MakeSlice(out.Type(), iv.Len(), iv.Len())
		for i := 0; i < iv.Len(); i++ {
			if err := decode(fmt.Sprintf("%s[%d]", path, i), iv.Index(i).Interface(), s.Index(i)); err != nil {
				return err
			}
		}
		out.Set(s)
	case reflect.Map:
		if iv.Kind() != reflect.Map {
			return typeErr(path, "a mapping", in)
		}
		m := reflect.MakeMapWithSize(out.Type(), iv.Len())
		for _, k := range iv.MapKeys() {
			ks := fmt.Sprint(k.Interface())
			kv := reflect.New(out.Type().Key()).Elem()
			if err := decode(path, ks, kv); err != nil {
				return err
			}
			ev := reflect.New(out.Type().Elem()).Elem()
			if err := decode(path+"."+ks, iv.MapIndex(k).Interface(), ev); err != nil {
				return err
			}
			m.SetMapIndex(kv, ev)
		}
		out.Set(m)
	case reflect.Struct:
		return decodeStruct(path, in, out)
	default:
		return inputErrf("%s: cannot decode into %s", path, out.Type())
	}
	return nil
}

func decodeStruct(path string, in any, out reflect.Value) error {
	m, ok := in.(map[string]any)
	if !ok {
		return typeErr(path, "a mapping", in)
	}
	t := out.Type()
	used := make(map[string]bool, len(m))
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ","); tag != "" {
			if tag == "-" {
				continue
			}
			name = tag
		}
		key, found := name, false
		if _, found = m[name]; !found {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if strings.EqualFold(k, name) {
					key, found = k, true
					break
				}
			}
		}
		if !found {
			continue
		}
		used[key] = true
		if err := decode(join(path, key), m[key], out.Field(i)); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch {
		case used[k] || ignoredKey(t, k) || openMapping(t):
		case strings.HasPrefix(k, "x-") && extensible(t):
		case strings.HasPrefix(k, "x-"):
			return inputErrf("%s: unsupported key %q (docker allows x-* keys only at the top level and in a service, network, volume, secret or config)", orTop(path), k)
		default:
			return inputErrf("%s: unsupported key %q", orTop(path), k)
		}
	}
	return nil
}

// ignoredKey: keys docker's schema accepts that its types do not decode.
func ignoredKey(t reflect.Type, k string) bool {
	return t == reflect.TypeFor[composetypes.ServiceConfig]() && k == "oom_score_adj"
}

// extensible: the mappings where docker's schema allows x-* keys
// (patternProperties "^x-"); anywhere else it refuses them.
func extensible(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[composetypes.ServiceConfig](), reflect.TypeFor[composetypes.NetworkConfig](),
		reflect.TypeFor[composetypes.VolumeConfig](), reflect.TypeFor[composetypes.SecretConfig](),
		reflect.TypeFor[composetypes.ConfigObjConfig]():
		return true
	}
	return false
}

// openMapping: the mappings docker's schema leaves open (no
// additionalProperties: false), whose unknown keys docker accepts and
// drops: a service's secret and config references, a volume's bind,
// volume and tmpfs options, build.
func openMapping(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[composetypes.ServiceSecretConfig](), reflect.TypeFor[composetypes.ServiceConfigObjConfig](),
		reflect.TypeFor[composetypes.ServiceVolumeBind](), reflect.TypeFor[composetypes.ServiceVolumeVolume](),
		reflect.TypeFor[composetypes.ServiceVolumeTmpfs](), reflect.TypeFor[composetypes.BuildConfig]():
		return true
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func typeErr(path, want string, got any) error {
	return inputErrf("%s: want %s, got %s %s", path, want, kindName(got), abbrev(fmt.Sprint(got)))
}

func kindName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int64, uint64:
		return "integer"
	case float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}
