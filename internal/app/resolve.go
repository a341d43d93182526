package app

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// Resolved is an app resolved as abra resolves it for a deploy: its env, the
// generation hints of its secrets and the swarm app to deploy.
type Resolved struct {
	Env   map[string]string
	Hints []compose.SecretHint
	App   *swarm.App
}

// envVars returns the app's env file as abra reads it or, before `abra app
// new` wrote one, the recipe's .env.sample with DOMAIN and TYPE set: exactly
// what CreateEnvFile would write.
func envVars(inst *Instance, getenv func(string) string) ([]compose.EnvVar, error) {
	vars, err := compose.ReadEnvVars(inst.EnvFile, getenv)
	if errors.Is(err, os.ErrNotExist) {
		sample, serr := os.ReadFile(filepath.Join(inst.Recipe.Dir, ".env.sample"))
		if serr != nil {
			return nil, inputErr("recipe %s: %v", inst.Recipe.Name, serr)
		}
		text := withVars(sample, map[string]string{"DOMAIN": inst.Domain, "TYPE": inst.Recipe.Name})
		vars, err = compose.ParseEnvFile(bytes.NewReader(text), getenv)
		if err != nil {
			err = inputErr("%s (as created from .env.sample): %v", inst.EnvFile, err)
		}
	}
	if err != nil {
		if errors.Is(err, compose.ErrInput) {
			return nil, inputErr("env file %v", err)
		}
		return nil, err
	}
	return vars, nil
}

// Resolve is the one path from a recipe and an app to what is deployed:
// the env (env file, then abra.sh's exports over it, DOMAIN and
// STACK_NAME as abra threads them in), the compose files loaded with it
// as docker stack deploy loads them, abra's ExposeAllEnv, and the swarm
// objects converted and checked without an engine. --render prints it and
// a deploy deploys it, so the two cannot differ. Errors in the recipe or
// the env are ErrInput; warn gets one line per warning (nil discards).
func Resolve(inst *Instance, runID string, getenv func(string) string, warn func(string)) (*Resolved, error) {
	vars, err := envVars(inst, getenv)
	if err != nil {
		return nil, err
	}
	abraSh, err := compose.ReadAbraSh(filepath.Join(inst.Recipe.Dir, "abra.sh"))
	if err != nil {
		return nil, inputErr("recipe %s: %v", inst.Recipe.Name, err)
	}
	env := compose.MergeAbraSh(compose.Map(vars), abraSh)
	if _, ok := env["DOMAIN"]; !ok {
		env["DOMAIN"] = inst.Domain
	}
	env["STACK_NAME"] = names.StackName(inst.Domain)
	cfg, err := compose.LoadConfig(inst.Recipe.Dir, env, warn)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	hints, err := compose.SecretHints(cfg, vars)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	for _, h := range hints { // generate=false without a value fails now
		if _, err := SecretValue(h, getenv); err != nil {
			return nil, err
		}
	}
	compose.ExposeAllEnv(cfg, env)
	a, err := swarm.NewApp(inst.Domain, runID, cfg)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	if err := a.Check(); err != nil {
		return nil, inputErr("%v", err)
	}
	return &Resolved{Env: env, Hints: hints, App: a}, nil
}

// Render writes the resolved stack (Resolve) as `docker stack config`
// prints a stack: what a deploy of inst would deploy.
func Render(w io.Writer, inst *Instance, getenv func(string) string, warn func(string)) error {
	s, err := Resolve(inst, "render", getenv, warn)
	if err != nil {
		return err
	}
	return compose.Render(w, s.App.Config)
}

// Prepare resolves the app (Resolve) for the run that deploys it: inst.App
// is what the driver deploys, inst.Secret what its secrets' values are.
func Prepare(inst *Instance, runID string, getenv func(string) string, warn func(string)) error {
	s, err := Resolve(inst, runID, getenv, warn)
	if err != nil {
		return err
	}
	inst.App = s.App
	inst.App.LockNamespace = inst.LockNamespace
	inst.Secret = func(key string) ([]byte, error) {
		h := compose.SecretHint{Key: key, Generate: true} // a secret no service uses: no hints
		for _, sh := range s.Hints {
			if sh.Key == key {
				h = sh
			}
		}
		return SecretValue(h, getenv)
	}
	return nil
}
