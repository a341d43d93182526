package compose

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// mergeConfigs folds the later files' configs into the first as docker's
// loader/merge.go does. Services present in both merge field by field with
// mergo's rules under WithOverride and WithAppendSlice (mergeValue), plus
// docker's special cases: ports, volumes, secrets and configs merge by key
// (published port, target, source) and come out sorted by it; command and
// entrypoint are replaced; logging options merge under one driver;
// ulimits, replicas and network attachments are replaced. Top-level
// volumes, networks, secrets and configs are replaced per name; top-level
// x-* keys are kept from the first file only, as docker keeps them.
func mergeConfigs(configs []*composetypes.Config) (*composetypes.Config, error) {
	base := configs[0]
	for _, over := range configs[1:] {
		byName := map[string]composetypes.ServiceConfig{}
		for _, s := range base.Services {
			byName[s.Name] = s
		}
		for _, o := range over.Services {
			b, ok := byName[o.Name]
			if !ok {
				byName[o.Name] = o
				continue
			}
			if err := mergeValue(reflect.ValueOf(&b).Elem(), reflect.ValueOf(o)); err != nil {
				return nil, inputErrf("%s: cannot merge service %s: %v", over.Filename, o.Name, err)
			}
			byName[o.Name] = b
		}
		base.Services = base.Services[:0:0]
		for _, s := range byName {
			base.Services = append(base.Services, s)
		}
		slices.SortFunc(base.Services, func(a, b composetypes.ServiceConfig) int { return cmp.Compare(a.Name, b.Name) })
		base.Volumes = replaceEntries(base.Volumes, over.Volumes)
		base.Networks = replaceEntries(base.Networks, over.Networks)
		base.Secrets = replaceEntries(base.Secrets, over.Secrets)
		base.Configs = replaceEntries(base.Configs, over.Configs)
	}
	return base, nil
}

// replaceEntries is mergo.Map(&base, &over, WithOverride) on maps of
// structs: each entry of over replaces base's whole.
func replaceEntries[T any](base, over map[string]T) map[string]T {
	if base == nil && len(over) > 0 {
		base = make(map[string]T, len(over))
	}
	for k, v := range over {
		base[k] = v
	}
	return base
}

// mergeSpecial returns docker's merge transformer for a type (the
// specials of mergeServices), nil if none.
func mergeSpecial(t reflect.Type) func(dst, src reflect.Value) error {
	switch t {
	case reflect.TypeFor[*composetypes.LoggingConfig]():
		return mergeLogging
	case reflect.TypeFor[[]composetypes.ServicePortConfig]():
		return mergeByKey(func(p composetypes.ServicePortConfig) uint32 { return p.Published })
	case reflect.TypeFor[[]composetypes.ServiceSecretConfig]():
		return mergeByKey(func(s composetypes.ServiceSecretConfig) string { return s.Source })
	case reflect.TypeFor[[]composetypes.ServiceConfigObjConfig]():
		return mergeByKey(func(s composetypes.ServiceConfigObjConfig) string { return s.Source })
	case reflect.TypeFor[[]composetypes.ServiceVolumeConfig]():
		return mergeByKey(func(v composetypes.ServiceVolumeConfig) string { return v.Target })
	case reflect.TypeFor[*composetypes.UlimitsConfig]():
		return func(dst, src reflect.Value) error {
			if !src.IsNil() {
				dst.Elem().Set(src.Elem())
			}
			return nil
		}
	case reflect.TypeFor[composetypes.ShellCommand]():
		return func(dst, src reflect.Value) error {
			if src.Len() != 0 {
				dst.Set(src)
			}
			return nil
		}
	case reflect.TypeFor[*composetypes.ServiceNetworkConfig]():
		return func(dst, src reflect.Value) error {
			if src.IsNil() {
				return nil
			}
			d, s := dst.Interface().(*composetypes.ServiceNetworkConfig), src.Interface().(*composetypes.ServiceNetworkConfig)
			d.Aliases = s.Aliases
			if s.Ipv4Address != "" {
				d.Ipv4Address = s.Ipv4Address
			}
			if s.Ipv6Address != "" {
				d.Ipv6Address = s.Ipv6Address
			}
			return nil
		}
	case reflect.TypeFor[*uint64]():
		return func(dst, src reflect.Value) error {
			if !src.IsNil() {
				dst.Elem().Set(src.Elem())
			}
			return nil
		}
	}
	return nil
}

// mergeByKey merges two lists as a map by key, src winning, sorted by key.
func mergeByKey[T any, K cmp.Ordered](key func(T) K) func(dst, src reflect.Value) error {
	return func(dst, src reflect.Value) error {
		m := map[K]T{}
		for _, v := range dst.Interface().([]T) {
			m[key(v)] = v
		}
		for _, v := range src.Interface().([]T) {
			m[key(v)] = v
		}
		out := make([]T, 0, len(m))
		for _, v := range m {
			out = append(out, v)
		}
		slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
		dst.Set(reflect.ValueOf(out))
		return nil
	}
}

// mergeLogging: same driver (or one unset) merges options, src winning;
// another driver replaces. As in docker, options from src are lost when
// dst has none (mergo merges into a copy of dst's nil map).
func mergeLogging(dst, src reflect.Value) error {
	if src.IsNil() {
		return nil
	}
	d, s := dst.Interface().(*composetypes.LoggingConfig), src.Interface().(*composetypes.LoggingConfig)
	if d.Driver == s.Driver || d.Driver == "" || s.Driver == "" {
		if d.Driver == "" {
			d.Driver = s.Driver
		}
		if d.Options != nil {
			for k, v := range s.Options {
				d.Options[k] = v
			}
		}
		return nil
	}
	dst.Set(src)
	return nil
}

// mergeValue is mergo's deepMerge with Overwrite and AppendSlice and
// docker's transformers: a transformer runs when dst is not nil; structs
// merge field by field; a non-empty src scalar replaces dst; slices
// append; maps merge key by key (scalars replaced, pointers merged into
// their target, nested maps and slices of `any` merged); pointers merge
// what they point to.
func mergeValue(dst, src reflect.Value) error {
	if !src.IsValid() {
		return nil
	}
	if dst.IsValid() && !isNil(dst) {
		if fn := mergeSpecial(dst.Type()); fn != nil {
			return fn(dst, src)
		}
	}
	switch dst.Kind() {
	case reflect.Struct:
		for i := 0; i < dst.NumField(); i++ {
			if !dst.Type().Field(i).IsExported() {
				continue
			}
			if err := mergeValue(dst.Field(i), src.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if dst.IsNil() && !src.IsNil() {
			if !dst.CanSet() {
				return nil
			}
			dst.Set(reflect.MakeMap(dst.Type()))
		}
		for _, key := range src.MapKeys() {
			se := src.MapIndex(key)
			de := dst.MapIndex(key)
			switch se.Kind() {
			case reflect.Map, reflect.Interface, reflect.Slice:
				if se.IsNil() {
					dst.SetMapIndex(key, se)
					continue
				}
			}
			sv := reflect.ValueOf(se.Interface())
			switch sv.Kind() {
			case reflect.Struct, reflect.Pointer, reflect.Map:
				dv := de
				if de.IsValid() {
					dv = reflect.ValueOf(de.Interface())
				}
				if err := mergeValue(dv, sv); err != nil {
					return err
				}
			case reflect.Slice:
				var ds reflect.Value
				if !de.IsValid() || isNil(de) {
					ds = reflect.MakeSlice(sv.Type(), 0, sv.Len())
				} else {
					ds = reflect.ValueOf(de.Interface())
				}
				if ds.Type() != sv.Type() {
					return fmt.Errorf("cannot append two slices with different type (%s, %s)", sv.Type(), ds.Type())
				}
				dst.SetMapIndex(key, reflect.AppendSlice(ds, sv))
			}
			// mergo keeps the merged element when both are maps (or src
			// is a slice, appended above); a map over anything else
			// replaces it.
			if de.IsValid() && !isEmpty(de) && (sv.Kind() == reflect.Slice ||
				sv.Kind() == reflect.Map && reflect.ValueOf(de.Interface()).Kind() == reflect.Map) {
				continue
			}
			if se.Kind() != reflect.Pointer || !de.IsValid() || isEmpty(de) {
				dst.SetMapIndex(key, se)
			}
		}
	case reflect.Slice:
		if !dst.CanSet() {
			return nil
		}
		dst.Set(reflect.AppendSlice(dst, src))
	case reflect.Pointer, reflect.Interface:
		if isNil(src) {
			return nil
		}
		if src.Kind() != reflect.Interface {
			if dst.IsNil() || src.Kind() != reflect.Pointer {
				if dst.CanSet() {
					dst.Set(src)
				}
			} else {
				return mergeValue(dst.Elem(), src.Elem())
			}
			return nil
		}
		if dst.CanSet() {
			dst.Set(src)
		}
	default:
		if !isEmpty(src) && dst.CanSet() {
			dst.Set(src)
		}
	}
	return nil
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Interface, reflect.Slice, reflect.Chan, reflect.Func, reflect.Map, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// isEmpty is mergo's isEmptyValue with dereferencing.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil() || isEmpty(v.Elem())
	case reflect.Func:
		return v.IsNil()
	case reflect.Invalid:
		return true
	}
	return false
}
