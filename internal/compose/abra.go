package compose

import (
	composetypes "github.com/docker/cli/cli/compose/types"
)

// ExposeAllEnv does what abra does to the loaded config just before it
// deploys (abra's app.ExposeAllEnv): every variable of the app's env (env
// file, abra.sh exports, STACK_NAME) that the service named "app" does
// not set itself is added to that service's environment, so the app
// container sees its whole env file. docker stack config does not do
// this, so Render is called before it; the stack driver should call it
// after, to deploy what abra deploys.
func ExposeAllEnv(cfg *composetypes.Config, env map[string]string) {
	for i := range cfg.Services {
		s := &cfg.Services[i]
		if s.Name != "app" {
			continue
		}
		if s.Environment == nil {
			s.Environment = composetypes.MappingWithEquals{}
		}
		for k, v := range env {
			if _, ok := s.Environment[k]; !ok {
				s.Environment[k] = &v
			}
		}
	}
}
