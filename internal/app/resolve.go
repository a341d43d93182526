package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// Env returns the app's environment as abra resolves it for a deploy: its
// env file (or, before `abra app new` wrote one, the recipe's .env.sample
// with DOMAIN and TYPE set, exactly what CreateEnvFile would write), DOMAIN
// and STACK_NAME, as abra threads them into compose interpolation.
func Env(inst *Instance) (map[string]string, error) {
	env, err := compose.ReadEnvFile(inst.EnvFile)
	if errors.Is(err, os.ErrNotExist) {
		sample, serr := os.ReadFile(filepath.Join(inst.Recipe.Dir, ".env.sample"))
		if serr != nil {
			return nil, inputErr("recipe %s: %v", inst.Recipe.Name, serr)
		}
		var vars []compose.EnvVar
		vars, err = compose.ParseEnvFile(bytes.NewReader(withVars(sample, map[string]string{"DOMAIN": inst.Domain, "TYPE": inst.Recipe.Name})))
		env = compose.Map(vars)
	}
	if err != nil {
		return nil, inputErr("env file %v", err)
	}
	if _, ok := env["DOMAIN"]; !ok {
		env["DOMAIN"] = inst.Domain
	}
	env["STACK_NAME"] = names.StackName(inst.Domain)
	return env, nil
}

// Resolve is the one path from a recipe and an app to the stack: the env
// (Env), the recipe's compose files interpolated with it, and their
// conversion to swarm objects, checked without an engine. --render prints
// what it returns and a deploy deploys it, so the two cannot differ. Errors
// in the recipe or the env are ErrInput; warn gets one line per warning.
func Resolve(inst *Instance, runID string, warn func(string)) (*swarm.App, error) {
	env, err := Env(inst)
	if err != nil {
		return nil, err
	}
	p, err := compose.Load(inst.Recipe.Dir, env)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	a, err := swarm.NewApp(inst.Domain, runID, p)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	return a, nil
}

// Prepare resolves the app (Resolve) for the run that deploys it.
func Prepare(inst *Instance, runID string, warn func(string)) error {
	a, err := Resolve(inst, runID, warn)
	if err != nil {
		return err
	}
	inst.App = a
	return nil
}
