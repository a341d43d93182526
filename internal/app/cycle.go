package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/compose"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// LabelFence is the label carrying the lock's fencing token on everything
// the stack driver creates.
const LabelFence = "ccci.fence"

// TeardownBound bounds a whole teardown, which runs on a context that
// outlives the run's cancellation.
const TeardownBound = 3 * time.Minute

// Cycle is one ccci-deploy call: one app's full cycle under its lock.
type Cycle struct {
	Prog            string // "deploy": messages read "ccci-deploy: ..."
	Domain          string // validated by Run
	Driver          string // "stack" or "abra"
	Recipe          string // --recipe DIR|NAME; "" takes TYPE from an existing env file
	Server          string // default "default"
	Timeout         time.Duration
	Deadline, Grace time.Duration
	NonBlock        bool
	Wait            time.Duration
	Test            []string // the test command; none is fine
	Env             *applet.Env
}

// Run runs the cycle and returns the exit status (CONTRACT.md): the test
// command's, 1 on a failed deploy, converge or teardown, 2 on bad input,
// 3 when deploy-count is not 1, 124 at the deadline, 128+N after signal N.
// Every path past the lock goes through the teardown, and the lock is
// released only after it (tests/testdata/deploy/*.txtar).
func (c *Cycle) Run(ctx context.Context) int {
	env := c.Env
	domain, err := names.Domain(c.Domain)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	c.Domain = domain
	drv, ok := Drivers[c.Driver]
	if !ok {
		return c.fail(applet.ExitUsage, "unknown driver %q: want stack or abra", c.Driver)
	}
	runID, err := runstate.RunID(env)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	run, err := runstate.Open(runstate.Dir(env), runID)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	abraDir := env.Getenv("ABRA_DIR")
	if abraDir == "" {
		abraDir = env.Getenv("HOME") + "/.abra"
	}
	if err := names.StateName(c.Server); err != nil {
		return c.fail(applet.ExitUsage, "--server: %v", err)
	}
	inst := &Instance{Domain: domain, Server: c.Server, AbraDir: abraDir,
		EnvFile: EnvFile(abraDir, c.Server, domain), Log: env.Stderr, Grace: c.Grace,
		Environ: env.With("ABRA_DIR=" + abraDir).Environ}
	// Bad input fails before the lock: nothing waits for a broken recipe.
	if inst.Recipe, err = c.findRecipe(abraDir, inst.EnvFile); err == nil {
		var sample map[string]string
		if sample, err = compose.ReadEnvFile(inst.Recipe.Dir + "/.env.sample"); err == nil {
			err = CheckSyntax(inst.Recipe, sample)
		} else {
			err = inputErr("recipe %s: %v", inst.Recipe.Name, err)
		}
	}
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	if inst.Swarm, err = swarm.New(ctx, env.Getenv); err != nil {
		return c.fail(1, "%v", err)
	}
	defer inst.Swarm.Close()
	b, err := lock.Open(env)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	defer b.Close()

	lt := lifetime.Begin(ctx, lifetime.Options{Prog: c.Prog, Stderr: env.Stderr, Deadline: c.Deadline, Grace: c.Grace})
	defer lt.End()
	release, err := run.HoldLive()
	if err != nil {
		return c.fail(1, "run %s: %v", runID, err)
	}
	defer release()
	host, _ := os.Hostname()
	l, err := b.Acquire(lt.Context(), lock.Request{
		Domain: domain, NonBlock: c.NonBlock, Wait: c.Wait,
		Holder: lock.Holder{Run: runID, PID: os.Getpid(), Host: host, Since: time.Now(), Cmd: "ccci-deploy " + domain},
		Notify: lock.Progress(env.Stderr, lock.ColourOn(env)),
	})
	if err != nil {
		if st := lt.Status(); st != 0 {
			return st
		}
		return c.fail(1, "%v", err)
	}
	// Deferred last, so it runs first among these: after the teardown in
	// locked, before the live-lock and the lifetime end.
	defer func() {
		if err := l.Release(); err != nil {
			c.fail(0, "%v", err)
		}
	}()
	return c.locked(lt, l, drv, inst, run)
}

// reapLeftovers removes what a dead run of this domain left on the swarm (it
// was SIGKILLed before its teardown, and no janitor has passed since): we
// hold the app lock, so nothing live owns it, exactly the janitor's
// reasoning, and the same Teardown. Without this the new run would fail on
// "secret already exists" (found by tests/concurrency TestDeployKills).
// The env file is left alone: it may be the operator's.
func (c *Cycle) reapLeftovers(ctx context.Context, lt *lifetime.Lifetime, inst *Instance) int {
	stack := names.StackName(inst.Domain)
	inv, err := inst.Swarm.Inventory(ctx, swarm.Filter{Stack: stack})
	if err != nil {
		return c.status(lt, err, "list %s: %v", stack, err)
	}
	left := inv[stack]
	if left == nil || len(left.All()) == 0 {
		return 0
	}
	fmt.Fprintf(c.Env.Stderr, "== deploy: %s: a dead run left %d objects (runs %v); reaping them under the lock ==\n",
		inst.Domain, len(left.All()), left.Runs)
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TeardownBound)
	defer cancel()
	if _, err := Teardown(tctx, inst.Swarm, inst.Domain, "", swarm.TeardownOptions{}); err != nil {
		return c.status(lt, err, "%v", err)
	}
	return 0
}

// locked is the part of the cycle under the app lock.
func (c *Cycle) locked(lt *lifetime.Lifetime, l lock.Lock, drv Driver, inst *Instance, run *runstate.Run) int {
	lt.EndOn(l.Lost(), applet.ExitLost, "app lock lost (lease expired; another run may hold it now)")
	inst.Token = l.Token()
	ctx := lt.Context()
	if st := c.reapLeftovers(ctx, lt, inst); st != 0 {
		return st
	}

	_, statErr := os.Lstat(inst.EnvFile)
	created := false
	if errors.Is(statErr, os.ErrNotExist) {
		err := drv.New(ctx, inst)
		_, statErr = os.Lstat(inst.EnvFile)
		created = statErr == nil
		if err != nil {
			return c.teardown(lt, drv, inst, created, false, run, c.status(lt, err, "new app %s: %v", inst.Domain, err))
		}
	}
	p, err := Load(inst.Recipe, inst.EnvFile, inst.Domain)
	if err != nil {
		return c.teardown(lt, drv, inst, created, false, run, c.fail(applet.ExitUsage, "%v", err))
	}
	if inst.App, err = swarm.NewApp(inst.Domain, run.ID, p); err != nil {
		return c.teardown(lt, drv, inst, created, false, run, c.fail(applet.ExitUsage, "%v", err))
	}
	token := strconv.FormatUint(inst.Token, 10)
	inst.App.Labels = map[string]string{LabelFence: token}
	// Counted only once the lock is held and just before the first thing
	// is deployed: the count is of deploys this run made.
	if _, err := run.Incr(runstate.DeployCount); err != nil {
		return c.teardown(lt, drv, inst, created, false, run, c.fail(1, "deploy-count: %v", err))
	}
	fmt.Fprintf(c.Env.Stderr, "== deploy: %s (stack %s, run %s, driver %s, recipe %s) ==\n",
		inst.Domain, inst.App.Stack, run.ID, c.Driver, inst.Recipe.Name)
	st := c.deploy(ctx, lt, drv, inst)
	if st == 0 && len(c.Test) > 0 {
		var err error
		st, err = lt.Run(lifetime.Cmd{
			Argv: c.Test, Dir: c.Env.Dir, Stdin: c.Env.Stdin, Stdout: c.Env.Stdout, Stderr: c.Env.Stderr,
			Env: c.Env.With("DOMAIN="+inst.Domain, "STACK_NAME="+inst.App.Stack, "ABRA_DIR="+inst.AbraDir,
				"CCCI_RUN_ID="+run.ID, "CCCI_LOCK_DOMAIN="+inst.Domain, "CCCI_LOCK_TOKEN="+token).Environ,
		})
		if err != nil {
			c.fail(0, "test command: %v", err)
		}
	}
	if lt.Status() != 0 {
		st = lt.Status() // a signal, the deadline or a lost lock ended the run
	}
	return c.teardown(lt, drv, inst, created, true, run, st)
}

// deploy deploys and waits for convergence, bounded by Timeout.
func (c *Cycle) deploy(ctx context.Context, lt *lifetime.Lifetime, drv Driver, inst *Instance) int {
	if err := drv.Deploy(ctx, inst); err != nil {
		return c.status(lt, err, "deploy %s: %v", inst.Domain, err)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	err := inst.Swarm.Converge(cctx, inst.App, func(s string) { fmt.Fprintln(c.Env.Stderr, s) })
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "converge: ")
		if errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			msg = fmt.Sprintf("timed out after %v (--timeout): %s", c.Timeout, msg)
		}
		return c.status(lt, err, "converge %s: %s", inst.Domain, msg)
	}
	fmt.Fprintf(c.Env.Stderr, "== converged: %s in %v ==\n", inst.Domain, lock.Round(time.Since(start)))
	return 0
}

// teardown removes everything of the app on a context that outlives the
// run's cancellation, then checks the deploy count (when this call counted
// a deploy) and returns the final status.
func (c *Cycle) teardown(lt *lifetime.Lifetime, drv Driver, inst *Instance, created, counted bool, run *runstate.Run, st int) int {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(lt.Context()), TeardownBound)
	defer cancel()
	if newer, err := newerFence(ctx, inst.Swarm, inst.Domain, inst.Token); err != nil || newer > 0 {
		if err != nil {
			c.fail(0, "teardown %s: %v", inst.Domain, err)
		} else {
			c.fail(0, "teardown %s: not touching it: it now carries fencing token %d, newer than ours (%d); its new holder owns it", inst.Domain, newer, inst.Token)
			if created { // our own host's env file is still ours to remove
				if err := os.Remove(inst.EnvFile); err != nil && !errors.Is(err, os.ErrNotExist) {
					c.fail(0, "teardown %s: %v", inst.Domain, err)
				}
			}
		}
		if ls := lt.Status(); ls != 0 {
			return ls
		}
		return 1
	}
	if counted {
		if err := drv.Undeploy(ctx, inst); err != nil {
			fmt.Fprintf(c.Env.Stderr, "ccci-%s: teardown %s: %v (removing the rest)\n", c.Prog, inst.Domain, err)
		}
	}
	envFile := ""
	if created {
		envFile = inst.EnvFile
	}
	rep, err := Teardown(ctx, inst.Swarm, inst.Domain, envFile, swarm.TeardownOptions{})
	if err != nil {
		c.fail(0, "%v", err)
		if st == 0 {
			st = 1
		}
	} else {
		fmt.Fprintf(c.Env.Stderr, "== teardown: %s complete in %v (%d removed) ==\n", inst.Domain, lock.Round(rep.Took), len(rep.Removed))
	}
	if ls := lt.Status(); ls != 0 {
		st = ls
	}
	if !counted {
		return st
	}
	n, err := run.Get(runstate.DeployCount)
	if err != nil {
		c.fail(0, "deploy-count: %v", err)
		return applet.ExitInvariant
	}
	fmt.Fprintf(c.Env.Stderr, "deploy-count = %d\n", n)
	if n != 1 && lt.Status() == 0 {
		return applet.ExitInvariant
	}
	return st
}

// status is the exit status of a step that failed with err: the funnel's
// when the run is ending (the funnel already said why), else 1 with one
// line saying what failed.
func (c *Cycle) status(lt *lifetime.Lifetime, err error, format string, a ...any) int {
	if st := lt.Status(); st != 0 {
		return st
	}
	if errors.Is(err, ErrInput) {
		return c.fail(applet.ExitUsage, format, a...)
	}
	return c.fail(1, format, a...)
}

// fail prints one line and returns code.
func (c *Cycle) fail(code int, format string, a ...any) int {
	c.Env.Errorf(c.Prog, format, a...)
	return code
}

// findRecipe resolves --recipe; without one, the TYPE of an existing env
// file names it, as abra does.
func (c *Cycle) findRecipe(abraDir, envFile string) (Recipe, error) {
	name := c.Recipe
	if name == "" {
		if env, err := compose.ReadEnvFile(envFile); err == nil {
			name = env["TYPE"]
		}
	}
	return FindRecipe(abraDir, name)
}
