package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// Driver is how an app gets onto the swarm. Whatever the driver, the cycle
// converges through the Engine API and ends with Teardown, so nothing is
// left even when the driver's own undeploy does not wait.
type Driver interface {
	// New creates the app's env file, which does not exist yet.
	New(ctx context.Context, a *Instance) error
	// Check refuses, before anything is counted or created, what the
	// deploy would refuse on the engine's side (a missing external
	// network): an input error, as app.ErrInput.
	Check(ctx context.Context, a *Instance) error
	// Deploy creates the app's secrets and deploys it; it does not wait.
	Deploy(ctx context.Context, a *Instance) error
	// Undeploy is the driver's own teardown, run before Teardown makes
	// sure; its errors are reported, not fatal.
	Undeploy(ctx context.Context, a *Instance) error
}

// Instance is one app of one run, as the drivers see it.
type Instance struct {
	Domain, Server, AbraDir, EnvFile string
	Recipe                           Recipe
	App                              *swarm.App // set once the project is loaded
	Swarm                            *swarm.Client
	Environ                          []string  // abra's environment (ABRA_DIR set)
	Log                              io.Writer // where drivers' output goes (stderr)
	Grace                            time.Duration
	Token                            uint64 // the lock's fencing token, once held
	// LockNamespace is the lock backend's namespace: everything the stack
	// driver creates is labelled with it (swarm.LabelLockNamespace).
	LockNamespace string
	// Secret returns the value of the app's secret key (Prepare sets it).
	Secret func(key string) ([]byte, error)
}

// Drivers by --driver name.
var Drivers = map[string]Driver{"stack": Stack{}, "abra": Abra{}}

// Stack deploys through the Engine API, as `docker stack deploy` does.
type Stack struct{}

func (Stack) New(ctx context.Context, a *Instance) error {
	_, err := CreateEnvFile(a.Recipe, a.EnvFile, a.Domain)
	return err
}

func (Stack) Check(ctx context.Context, a *Instance) error {
	if err := a.Swarm.CheckExternals(ctx, a.App); err != nil {
		if errors.Is(err, swarm.ErrMissingExternal) {
			return inputErr("%v", err)
		}
		return err
	}
	return nil
}

func (Stack) Deploy(ctx context.Context, a *Instance) error {
	if _, err := a.Swarm.CreateSecrets(ctx, a.App, a.Secret); err != nil {
		return err
	}
	return a.Swarm.Deploy(ctx, a.App)
}

func (Stack) Undeploy(ctx context.Context, a *Instance) error { return nil }

// Abra runs the abra CLI with the run's ABRA_DIR, as a recipe maintainer
// would by hand (docs/pipeline.md):
//
//	abra app new RECIPE --server SERVER --domain DOMAIN --chaos --no-input
//	abra app secret generate DOMAIN --all --no-input   (stdout discarded)
//	abra app deploy DOMAIN --chaos --no-input
//	abra app undeploy DOMAIN --no-input
//	abra app volume remove DOMAIN --force --no-input
//	abra app secret remove DOMAIN --all --no-input
//
// abra knows a recipe only by name, as $ABRA_DIR/recipes/<name>: a
// --recipe DIR elsewhere is linked there first, so abra deploys the very
// directory ccci converges and tears down from. --chaos: the checkout as
// it is (the pull request's head), never a release abra would check out.
type Abra struct{}

func (Abra) New(ctx context.Context, a *Instance) error {
	if err := a.linkRecipe(); err != nil {
		return err
	}
	return a.abra(ctx, "app", "new", a.Recipe.Name, "--server", a.Server, "--domain", a.Domain, "--chaos", "--no-input")
}

// Check is the stack driver's: abra refuses a missing external network
// too, but only inside `abra app deploy`, after the deploy was counted.
func (Abra) Check(ctx context.Context, a *Instance) error { return Stack{}.Check(ctx, a) }

// Deploy generates the secrets without showing their values: `abra app
// secret generate` prints a table of the generated values on stdout, and
// that must never reach a CI log; its stderr (abra's log lines, an error)
// still does.
func (Abra) Deploy(ctx context.Context, a *Instance) error {
	if err := a.abraOut(ctx, io.Discard, "app", "secret", "generate", a.Domain, "--all", "--no-input"); err != nil {
		return err
	}
	return a.abra(ctx, "app", "deploy", a.Domain, "--chaos", "--no-input")
}

// Undeploy runs all three steps whatever fails: each removes what it can;
// then it removes the link New made, if any.
func (Abra) Undeploy(ctx context.Context, a *Instance) error {
	return errors.Join(
		a.abra(ctx, "app", "undeploy", a.Domain, "--no-input"),
		a.abra(ctx, "app", "volume", "remove", a.Domain, "--force", "--no-input"),
		a.abra(ctx, "app", "secret", "remove", a.Domain, "--all", "--no-input"),
		a.unlinkRecipe(),
	)
}

// abraRecipePath is where abra looks for the instance's recipe.
func (a *Instance) abraRecipePath() string {
	return filepath.Join(a.AbraDir, "recipes", a.Recipe.Name)
}

// linkRecipe makes $ABRA_DIR/recipes/<name> the recipe's directory: as it
// is when the recipe was found there, else a symlink to it. A different
// directory already there under that name is an input error: abra would
// deploy it, not the recipe ccci was given.
func (a *Instance) linkRecipe() error {
	p := a.abraRecipePath()
	if same, err := sameDir(p, a.Recipe.Dir); same || err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return inputErr("recipe %s: %s is another recipe of that name; abra would deploy it, not %s", a.Recipe.Name, p, a.Recipe.Dir)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.Symlink(a.Recipe.Dir, p)
}

// unlinkRecipe removes the symlink linkRecipe made (and nothing else).
func (a *Instance) unlinkRecipe() error {
	p := a.abraRecipePath()
	if t, err := os.Readlink(p); err != nil || t != a.Recipe.Dir {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// sameDir reports whether paths a and b name one directory.
func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// abra runs one abra command in its own process group, its output on
// a.Log; cancelling ctx sends the group SIGTERM, then SIGKILL after Grace.
func (a *Instance) abra(ctx context.Context, args ...string) error {
	return a.abraOut(ctx, a.Log, args...)
}

// abraOut is abra with the command's stdout on stdout (stderr on a.Log).
func (a *Instance) abraOut(ctx context.Context, stdout io.Writer, args ...string) error {
	bin, err := lookPath("abra", a.Environ)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = a.Environ
	cmd.Stdout, cmd.Stderr = stdout, a.Log
	cmd.SysProcAttr = abraProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = a.Grace
	if err := cmd.Run(); err != nil {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leave no straggler
		}
		return fmt.Errorf("abra %s: %v", strings.Join(args, " "), err)
	}
	return nil
}

// lookPath finds file in environ's PATH (not the process's: an applet runs
// with the environment it is given).
func lookPath(file string, environ []string) (string, error) {
	path := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", file)
}
