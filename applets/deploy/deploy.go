// Package deploy is the ccci-deploy applet: one app's full cycle under its
// lock (cycle.go). The recipe, the
// env file, the drivers and the teardown the janitor shares are
// internal/app's.
//
// Synopsis:
//
//	ccci-deploy [options] DOMAIN [-- TEST COMMAND...]
package deploy

import (
	"context"
	"errors"
	"flag"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	_ "git.coopcloud.tech/toolshed/ccci/internal/flock" // the "file" lock backend
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-deploy [options] DOMAIN [-- TEST COMMAND...]

Deploys one app for this run and tears it down again, under DOMAIN's app
lock (as ccci-lock): wait for the lock, record the deploy in the run's
deploy-count, create the app's env file from the recipe's .env.sample if
absent ($ABRA_DIR/servers/SERVER/DOMAIN.env), generate its secrets, deploy,
wait until every service converges, run TEST COMMAND, then tear down
everything (services, networks, volumes, secrets, configs, the env file if
created here) on every exit path, print "deploy-count = N", and only then
release the lock. TEST COMMAND runs in its own PID namespace with DOMAIN,
STACK_NAME, ABRA_DIR, CCCI_RUN_ID and CCCI_LOCK_TOKEN set.

Options (also accepted after DOMAIN, up to --):
      --driver stack|abra    stack: the compose files through the Engine API
                             (default); abra: the abra CLI with $ABRA_DIR
      --recipe DIR|NAME      a directory holding compose.yml, or a recipe name
                             under $ABRA_DIR/recipes (default: the env file's TYPE)
      --server NAME          abra server directory (default "default")
      --timeout DUR          give up converging after DUR (default 5m)
  -n, --nonblock             fail at once if DOMAIN's lock is held
  -w, --wait DUR             give up waiting for the lock after DUR
      --deadline DUR         end the run after DUR, exit 124 (default 1h)
      --grace DUR            SIGTERM to SIGKILL grace at teardown (default 10s)

Exit status: the test command's (0 without one); 1 on a lock conflict, a
failed deploy, converge or teardown; 2 on bad input (unknown recipe, broken
compose file, env file missing a variable, invalid domain); 3 when
deploy-count is not 1; 124 at the deadline; 128+N after signal N, once the
teardown is complete.

Environment: CCCI_RUN_ID (else DRONE_BUILD_NUMBER), CCCI_RUNS_DIR,
CCCI_LOCK_DIR, CCCI_LOCK_BACKEND, ABRA_DIR (default $HOME/.abra),
DOCKER_HOST.

Examples:
  ccci-deploy --recipe ./myrecipe myrecipe.ci.example.org -- ./tests/run
  ccci-deploy --driver abra --recipe gitea -w 30m gitea.ci.example.org -- make test
  eval "$(ccci-runstate init)"; ccci-deploy --recipe custom-html "$RUN.ci.example.org"
`

const prog = "deploy"

// Main runs ccci-deploy.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	c, err := parse(env, args)
	if err != nil {
		return env.Usage(prog, Usage, err)
	}
	return c.run(ctx)
}

func parse(env *applet.Env, args []string) (*cycle, error) {
	c := &cycle{env: env, options: options{Driver: "stack", Server: "default",
		Timeout: 5 * time.Minute, Deadline: lifetime.DefaultDeadline, Grace: lifetime.DefaultGrace}}
	fs := applet.NewFlagSet(prog)
	fs.StringVar(&c.Driver, "driver", c.Driver, "")
	fs.StringVar(&c.Recipe, "recipe", "", "")
	fs.StringVar(&c.Server, "server", c.Server, "")
	fs.Var(applet.Duration{D: &c.Timeout}, "timeout", "")
	fs.BoolVar(&c.NonBlock, "n", false, "")
	fs.BoolVar(&c.NonBlock, "nonblock", false, "")
	fs.Var(applet.Duration{D: &c.Wait}, "w", "")
	fs.Var(applet.Duration{D: &c.Wait}, "wait", "")
	fs.Var(applet.Duration{D: &c.Deadline}, "deadline", "")
	fs.Var(applet.Duration{D: &c.Grace}, "grace", "")
	pos, cmd, err := applet.Parse(fs, args, 1)
	if err != nil {
		return nil, err
	}
	waitSet := false
	fs.Visit(func(f *flag.Flag) { waitSet = waitSet || f.Name == "w" || f.Name == "wait" })
	switch {
	case len(pos) == 0:
		return nil, errors.New("missing DOMAIN")
	case c.Timeout == 0:
		return nil, errors.New("--timeout must be more than 0")
	case c.Deadline == 0:
		return nil, errors.New("--deadline must be more than 0")
	}
	if waitSet && c.Wait == 0 {
		c.NonBlock = true // as flock(1): -w 0 gives up at once
	}
	c.Domain, c.Test = pos[0], cmd
	return c, nil
}
