package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/app"
	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// TeardownBound bounds a whole teardown, which runs on a context that
// outlives the run's cancellation.
const TeardownBound = 3 * time.Minute

// options are ccci-deploy's flags and arguments.
type options struct {
	Domain          string // validated by run
	Driver          string // "stack" or "abra"
	Recipe          string // --recipe DIR|NAME; "" takes it from an existing env file
	Server          string // default "default"
	Timeout         time.Duration
	Deadline, Grace time.Duration
	NonBlock        bool
	Wait            time.Duration
	Render          bool     // --render: print the resolved stack, deploy nothing
	Test            []string // the test command; none is fine
}

// cycle is one ccci-deploy call: one app's full cycle under its lock. The
// fields below options are its state, filled in as the cycle goes, so that
// every step (and the teardown every path ends in) sees the same facts.
type cycle struct {
	options
	env *applet.Env

	lt        *lifetime.Lifetime
	drv       app.Driver
	inst      *app.Instance
	state     *runstate.Run // the run's state dir
	created   bool          // the env file did not exist before: ours to remove
	counted   bool          // this call counted a deploy in deploy-count
	converged bool          // the stack driver deployed and saw it converge: nothing in flight
}

// run runs the cycle and returns the exit status (CONTRACT.md): the test
// command's, 1 on a failed deploy, converge or teardown, 2 on bad input,
// 3 when deploy-count is not 1, 124 at the deadline, 128+N after signal N.
// Every path past the lock goes through the teardown, and the lock is
// released only after it (tests/testdata/deploy/*.txtar).
func (c *cycle) run(ctx context.Context) int {
	env := c.env
	domain, err := names.Domain(c.Domain)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	c.Domain = domain
	drv, ok := app.Drivers[c.Driver]
	if !ok {
		return c.fail(applet.ExitUsage, "unknown driver %q: want stack or abra", c.Driver)
	}
	c.drv = drv
	if err := names.StateName(c.Server); err != nil {
		return c.fail(applet.ExitUsage, "--server: %v", err)
	}
	abraDir, err := app.AbraDir(env.Getenv)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	c.inst = &app.Instance{Domain: domain, Server: c.Server, AbraDir: abraDir,
		EnvFile: app.EnvFile(abraDir, c.Server, domain), Log: env.Stderr, Grace: c.Grace,
		Environ: env.With("ABRA_DIR=" + abraDir).Environ}
	// Bad input fails before the lock: nothing waits for a broken recipe.
	if c.inst.Recipe, err = app.FindRecipeFor(abraDir, c.Recipe, c.inst.EnvFile, env.Getenv); err == nil {
		err = app.CheckSyntax(c.inst.Recipe, env.Getenv)
	}
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	if c.Render {
		return c.render()
	}
	// Whatever in the recipe or its env a deploy would refuse (${X:?msg},
	// a generate=false secret without its value) is refused here, before
	// the lock, as --render refuses it; its warnings are printed here, once.
	if _, err := app.Resolve(c.inst, "check", env.Getenv, c.warn); err != nil {
		return c.fail(exitFor(err), "%v", err)
	}
	runID, err := runstate.RunID(env)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	if c.state, err = runstate.Open(runstate.Dir(env), runID); err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	if c.inst.Swarm, err = swarm.New(ctx, env.Getenv); err != nil {
		return c.fail(1, "%v", err)
	}
	defer c.inst.Swarm.Close()
	b, err := lock.Open(env)
	if err != nil {
		return c.fail(applet.ExitUsage, "%v", err)
	}
	defer b.Close()
	if c.inst.LockNamespace, err = b.Namespace(ctx); err != nil {
		return c.fail(1, "%v", err)
	}

	c.lt = lifetime.Begin(ctx, lifetime.Options{Prog: prog, Stderr: env.Stderr, Deadline: c.Deadline, Grace: c.Grace, Exits: env.Exits})
	defer c.lt.End()
	release, err := c.state.HoldLive()
	if err != nil {
		return c.fail(1, "run %s: %v", runID, err)
	}
	defer release()
	host, _ := os.Hostname()
	l, err := b.Acquire(c.lt.Context(), lock.Request{
		Domain: domain, NonBlock: c.NonBlock, Wait: c.Wait,
		Holder: lock.Holder{Run: runID, PID: proc.Self(), Host: host, Since: time.Now(), Cmd: "ccci-deploy " + domain},
		Notify: lock.Progress(env.Stderr, lock.ColourOn(env)),
	})
	if err != nil {
		if st := c.lt.Status(); st != 0 {
			return st
		}
		return c.fail(1, "%v", err)
	}
	// Nothing here starts as fast as ccci-lock's command: the backend's
	// writes after acquiring (the etcd holder record) may go at once.
	lock.Started(l)
	// Deferred last, so it runs first among these: after the teardown in
	// locked, before the live-lock and the lifetime end.
	defer func() {
		if err := l.Release(); err != nil {
			c.fail(0, "%v", err)
		}
	}()
	return c.locked(l)
}

// render prints the resolved stack, exactly what a deploy would deploy
// (app.Resolve), and touches nothing: no lock, no engine, no env file.
func (c *cycle) render() int {
	if err := app.Render(c.env.Stdout, c.inst, c.env.Getenv, c.warn); err != nil {
		return c.fail(exitFor(err), "%v", err)
	}
	return applet.ExitOK
}

// reapLeftovers removes what a dead run of this domain left on the swarm (it
// was SIGKILLed before its teardown, and no janitor has passed since): we
// hold the app lock, so nothing live owns it, exactly the janitor's
// reasoning, and the same Teardown. Without this the new run would fail on
// "secret already exists" (found by tests/concurrency TestDeployKills).
// The env file is left alone: it may be the operator's.
func (c *cycle) reapLeftovers(ctx context.Context) int {
	stack := names.StackName(c.inst.Domain)
	inv, err := c.inst.Swarm.Inventory(ctx, swarm.Filter{Stack: stack})
	if err != nil {
		return c.status(err, "list %s: %v", stack, err)
	}
	left := inv[stack]
	if left == nil || len(left.All()) == 0 {
		return applet.ExitOK
	}
	// Our lock proves nothing about an app of another lock namespace.
	for _, ns := range left.LockNamespaces {
		if ns != c.inst.LockNamespace {
			return c.fail(1, "%s is deployed under lock namespace %s, not ours (%s): its run may be live; not touching it", c.inst.Domain, ns, c.inst.LockNamespace)
		}
	}
	fmt.Fprintf(c.env.Stderr, "== deploy: %s: a dead run left %d objects (runs %v); reaping them under the lock ==\n",
		c.inst.Domain, len(left.All()), left.Runs)
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TeardownBound)
	defer cancel()
	if _, err := app.Teardown(tctx, c.inst.Swarm, c.inst.Domain, "", swarm.TeardownOptions{}); err != nil {
		return c.status(err, "%v", err)
	}
	return applet.ExitOK
}

// locked is the part of the cycle under the app lock.
func (c *cycle) locked(l lock.Lock) int {
	c.lt.EndOnWithin(l.Lost(), lock.Margin(l), applet.ExitLost, "app lock lost (lease about to expire; another run may hold it soon)")
	inst := c.inst
	inst.Token = l.Token()
	ctx := c.lt.Context()
	if st := c.reapLeftovers(ctx); st != 0 {
		return st
	}

	_, statErr := os.Lstat(inst.EnvFile)
	if errors.Is(statErr, os.ErrNotExist) {
		err := c.drv.New(ctx, inst)
		_, statErr = os.Lstat(inst.EnvFile)
		c.created = statErr == nil
		if err != nil {
			return c.teardown(c.status(err, "new app %s: %v", inst.Domain, err))
		}
	}
	// Resolved again, under the lock, from the env file as it is now
	// (run already printed the warnings).
	if err := app.Prepare(inst, c.state.ID, c.env.Getenv, nil); err != nil {
		return c.teardown(c.fail(exitFor(err), "%v", err))
	}
	if err := c.drv.Check(ctx, inst); err != nil {
		return c.teardown(c.status(err, "deploy %s: %v", inst.Domain, err))
	}
	token := strconv.FormatUint(inst.Token, 10)
	inst.App.Labels = map[string]string{app.LabelFence: token}
	// Counted only once the lock is held, every input checked, and just
	// before the first thing is deployed: the count is of deploys this
	// run made (a missing external network counts nothing).
	if _, err := c.state.Incr(runstate.DeployCount); err != nil {
		return c.teardown(c.fail(1, "deploy-count: %v", err))
	}
	c.counted = true
	fmt.Fprintf(c.env.Stderr, "== deploy: %s (stack %s, run %s, driver %s, recipe %s) ==\n",
		inst.Domain, inst.App.Stack, c.state.ID, c.Driver, inst.Recipe.Name)
	st := c.deploy(ctx)
	if st == 0 && len(c.Test) > 0 {
		var err error
		st, err = c.lt.Run(lifetime.Cmd{
			Argv: c.Test, Dir: c.env.Dir, Stdin: c.env.Stdin, Stdout: c.env.Stdout, Stderr: c.env.Stderr,
			Env: c.env.With("DOMAIN="+inst.Domain, "STACK_NAME="+inst.App.Stack, "ABRA_DIR="+inst.AbraDir,
				"CCCI_RUN_ID="+c.state.ID, "CCCI_LOCK_DOMAIN="+inst.Domain, "CCCI_LOCK_TOKEN="+token).Environ,
		})
		if err != nil {
			c.fail(0, "test command: %v", err)
		}
	}
	if c.lt.Status() != 0 {
		st = c.lt.Status() // a signal, the deadline or a lost lock ended the run
	}
	return c.teardown(st)
}

// deploy deploys and waits for convergence, bounded by Timeout.
func (c *cycle) deploy(ctx context.Context) int {
	inst := c.inst
	if err := c.drv.Deploy(ctx, inst); err != nil {
		return c.status(err, "deploy %s: %v", inst.Domain, err)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	err := inst.Swarm.Converge(cctx, inst.App, func(s string) { fmt.Fprintln(c.env.Stderr, s) })
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "converge: ")
		if errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			msg = fmt.Sprintf("timed out after %v (--timeout): %s", c.Timeout, msg)
		}
		return c.status(err, "converge %s: %s", inst.Domain, msg)
	}
	fmt.Fprintf(c.env.Stderr, "== converged: %s in %v ==\n", inst.Domain, lock.Round(time.Since(start)))
	c.converged = c.Driver == "stack" // abra's own requests are not ours to vouch for
	return applet.ExitOK
}

// teardown removes everything of the app on a context that outlives the
// run's cancellation, then checks the deploy count (when this call counted
// a deploy) and returns the final status.
func (c *cycle) teardown(st int) int {
	inst := c.inst
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.lt.Context()), TeardownBound)
	defer cancel()
	if newer, err := app.NewerFence(ctx, inst.Swarm, inst.Domain, inst.Token); err != nil || newer > 0 {
		if err != nil {
			c.fail(0, "teardown %s: %v", inst.Domain, err)
		} else {
			c.fail(0, "teardown %s: not touching it: it now carries fencing token %d, newer than ours (%d); its new holder owns it", inst.Domain, newer, inst.Token)
			if c.created { // our own host's env file is still ours to remove
				if err := os.Remove(inst.EnvFile); err != nil && !errors.Is(err, os.ErrNotExist) {
					c.fail(0, "teardown %s: %v", inst.Domain, err)
				}
			}
		}
		if ls := c.lt.Status(); ls != 0 {
			return ls
		}
		return applet.ExitFailure
	}
	if c.counted {
		if err := c.drv.Undeploy(ctx, inst); err != nil {
			c.fail(0, "teardown %s: %v (removing the rest)", inst.Domain, err)
		}
	}
	envFile := ""
	if c.created {
		envFile = inst.EnvFile
	}
	rep, err := app.Teardown(ctx, inst.Swarm, inst.Domain, envFile, swarm.TeardownOptions{Converged: c.converged})
	if err != nil {
		c.fail(0, "%v", err)
		if st == 0 {
			st = 1
		}
	} else {
		fmt.Fprintf(c.env.Stderr, "== teardown: %s complete in %v (%d removed) ==\n", inst.Domain, lock.Round(rep.Took), len(rep.Removed))
	}
	if ls := c.lt.Status(); ls != 0 {
		st = ls
	}
	if !c.counted {
		return st
	}
	n, err := c.state.Get(runstate.DeployCount)
	if err != nil {
		c.fail(0, "deploy-count: %v", err)
		return applet.ExitInvariant
	}
	fmt.Fprintf(c.env.Stderr, "deploy-count = %d\n", n)
	if n != 1 && c.lt.Status() == 0 {
		return applet.ExitInvariant
	}
	return st
}

// status is the exit status of a step that failed with err: the funnel's
// when the run is ending (the funnel already said why), else 1 or 2 (bad
// input) with one line saying what failed.
func (c *cycle) status(err error, format string, a ...any) int {
	if st := c.lt.Status(); st != 0 {
		return st
	}
	return c.fail(exitFor(err), format, a...)
}

// exitFor is 2 for an error in the caller's input, else 1.
func exitFor(err error) int {
	if errors.Is(err, app.ErrInput) {
		return applet.ExitUsage
	}
	return applet.ExitFailure
}

// fail prints one line and returns code.
func (c *cycle) fail(code int, format string, a ...any) int {
	c.env.Errorf(prog, format, a...)
	return code
}

// warn prints one warning line: an unset variable, a key swarm ignores.
func (c *cycle) warn(msg string) {
	fmt.Fprintf(c.env.Stderr, "ccci-%s: warning: %s\n", prog, msg)
}
