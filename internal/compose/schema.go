package compose

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// checkSchema applies the rules of docker's JSON schema that decode cannot
// see, to one interpolated file, as docker validates it before loading:
// a list_or_dict (environment, labels, sysctls, extra_hosts, deploy.labels,
// the labels of networks, volumes, secrets and configs, build's args,
// labels and extra_hosts) maps non-empty keys to a string, a number or
// null — never a boolean, a list or a mapping — or lists unique strings;
// and the lists the schema marks uniqueItems hold no item twice.
// Booleans in an environment mapping are the usual case: docker stack
// deploy refuses `DEBUG: true`, so ccci must too.
func checkSchema(dict map[string]any) error {
	services, _ := dict["services"].(map[string]any)
	for _, sn := range slices.Sorted(maps.Keys(services)) {
		sd, _ := services[sn].(map[string]any)
		path := "services." + sn
		for _, k := range []string{"environment", "labels", "sysctls", "extra_hosts"} {
			if err := checkListOrDict(path+"."+k, sd[k]); err != nil {
				return err
			}
		}
		if deploy, ok := sd["deploy"].(map[string]any); ok {
			if err := checkListOrDict(path+".deploy.labels", deploy["labels"]); err != nil {
				return err
			}
		}
		if build, ok := sd["build"].(map[string]any); ok {
			for _, k := range []string{"args", "labels", "extra_hosts"} {
				if err := checkListOrDict(path+".build."+k, build[k]); err != nil {
					return err
				}
			}
			if err := checkUnique(path+".build.cache_from", build["cache_from"]); err != nil {
				return err
			}
		}
		for _, k := range []string{"cap_add", "cap_drop", "depends_on", "devices", "dns", "dns_search",
			"env_file", "expose", "external_links", "links", "networks", "ports", "security_opt", "tmpfs"} {
			if err := checkUnique(path+"."+k, sd[k]); err != nil {
				return err
			}
		}
		if nets, ok := sd["networks"].(map[string]any); ok {
			for _, n := range slices.Sorted(maps.Keys(nets)) {
				if nd, ok := nets[n].(map[string]any); ok {
					if err := checkUnique(path+".networks."+n+".aliases", nd["aliases"]); err != nil {
						return err
					}
				}
			}
		}
	}
	for _, section := range []string{"networks", "volumes", "secrets", "configs"} {
		entries, _ := dict[section].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(entries)) {
			if e, ok := entries[name].(map[string]any); ok {
				if err := checkListOrDict(section+"."+name+".labels", e["labels"]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkListOrDict is the schema's list_or_dict; other types are left to
// decode.
func checkListOrDict(path string, v any) error {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if k == "" {
				return inputErrf("%s: an empty key", path)
			}
			switch e := v[k].(type) {
			case nil, string, int, int64, uint64, float64:
			case time.Time: // a string once docker turns the file into JSON
			default:
				return inputErrf("%s.%s: want a string, a number or null, got %s %v (quote it)", path, k, kindName(e), abbrev(fmt.Sprint(e)))
			}
		}
	case []any:
		for i, e := range v {
			if _, ok := e.(string); !ok {
				return inputErrf("%s[%d]: want a string, got %s %v", path, i, kindName(e), abbrev(fmt.Sprint(e)))
			}
		}
		return checkUnique(path, v)
	}
	return nil
}

// checkUnique is the schema's uniqueItems for a list; anything but a list
// passes.
func checkUnique(path string, v any) error {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	seen := make(map[string]int, len(l))
	for j, e := range l {
		k := fmt.Sprintf("%#v", e) // fmt prints maps sorted by key
		if i, dup := seen[k]; dup {
			return inputErrf("%s: items %d and %d are the same (%v); docker requires unique items", path, i, j, abbrev(fmt.Sprint(e)))
		}
		seen[k] = j
	}
	return nil
}
