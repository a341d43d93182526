// Package runstate keys every piece of a CI run's state by the run, not by
// the domain: a per-run directory $CCCI_RUNS_DIR/<run>/ holding a per-run
// ABRA_DIR, atomic counters and a live-lock.
//
// Guarantees:
//   - paths are built only from run ids and state names that passed
//     internal/names; a bad one is refused before anything is touched;
//   - a run directory is 0700 and never inside a runs dir that is
//     world- or group-writable or owned by another user
//     (TestRunsDirRefused);
//   - Incr is atomic under any number of concurrent callers (an exclusive
//     flock per counter) and a crash never leaves a half-written counter
//     (temp file, fsync, rename): TestIncrConcurrent, TestIncrKilled,
//     TestIncrKilledMidWrite;
//   - a run is live while any process holds its live-lock shared (HoldLive),
//     or while it is younger than a minimum age; Live and Remove probe with a
//     non-blocking exclusive flock, which only the kernel decides;
//   - Remove walks the run directory by file descriptor (openat, unlinkat,
//     O_NOFOLLOW) and never follows a symlink out of it: TestRemoveSymlinks,
//     tests/testdata/runstate/rm.txtar.
//
// Layout of a run directory:
//
//	<runs>/<run>/            0700
//	  live.lock              shared-flocked by every process working for the run
//	  abra/servers  -> <base>/servers     (shared)
//	  abra/catalogue -> <base>/catalogue  (shared)
//	  abra/recipes/          fresh, per run
//	  state/<name>           counters and other run-keyed state
//	  locks/<name>           the flock sidecar of state/<name>
//	  tmp/                   temp files renamed into state/
package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
)

// DefaultRunsDir holds the run directories when $CCCI_RUNS_DIR is unset.
const DefaultRunsDir = "/var/lib/cc-ci-runs"

// Names inside a run directory.
const (
	liveName  = "live.lock"
	abraName  = "abra"
	stateName = "state"
	locksName = "locks"
	tmpName   = "tmp"
)

// DeployCount is the state name of the run's deploy counter
// (CCCI_DEPLOY_COUNT_FILE).
const DeployCount = "deploy-count"

// StateFiles are the state names other applets use; init exports
// CCCI_<NAME>_FILE for each.
var StateFiles = []string{DeployCount}

// ErrNoRunID is returned by RunID when neither variable is set.
var ErrNoRunID = errors.New("no run id: set CCCI_RUN_ID (or DRONE_BUILD_NUMBER), or pass --run")

// Dir returns the runs directory: $CCCI_RUNS_DIR, or DefaultRunsDir.
func Dir(env *applet.Env) string { return env.GetenvDefault("CCCI_RUNS_DIR", DefaultRunsDir) }

// RunID returns $CCCI_RUN_ID, else $DRONE_BUILD_NUMBER, validated.
func RunID(env *applet.Env) (string, error) {
	id := env.GetenvDefault("CCCI_RUN_ID", env.Getenv("DRONE_BUILD_NUMBER"))
	if id == "" {
		return "", ErrNoRunID
	}
	if err := names.RunID(id); err != nil {
		return "", err
	}
	return id, nil
}

// Run is one run's directory. Dir is <runs>/<id>.
type Run struct {
	ID      string
	Dir     string
	RunsDir string

	beforeRename func(tmp string) // tests: Incr calls it before publishing (TestIncrKilledMidWrite)
}

// Open returns the run id under runsDir. It validates id and refuses a
// world-writable runsDir; it creates nothing.
func Open(runsDir, id string) (*Run, error) {
	if err := names.RunID(id); err != nil {
		return nil, err
	}
	if runsDir == "" {
		return nil, errors.New("empty runs directory")
	}
	if err := checkRunsDir(runsDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &Run{ID: id, Dir: filepath.Join(runsDir, id), RunsDir: runsDir}, nil
}

// checkRunsDir refuses a runs directory others may write to (world or
// group), or that another user owns: there someone else could plant or swap a run directory
// between our checks and uses (TestRunsDirRefused).
func checkRunsDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("runs directory %s: not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("runs directory %s: writable by others (mode %v, world- or group-writable); refusing", dir, fi.Mode().Perm())
	}
	if uid, euid := fi.Sys().(*syscall.Stat_t).Uid, os.Geteuid(); int(uid) != euid {
		return fmt.Errorf("runs directory %s: owned by uid %d, not by us (uid %d); refusing", dir, uid, euid)
	}
	return nil
}

// Path returns the run-keyed path of state file name.
func (r *Run) Path(name string) (string, error) {
	if err := names.StateName(name); err != nil {
		return "", err
	}
	return filepath.Join(r.Dir, stateName, name), nil
}

// ensure creates the runs directory (0755 whatever the umask, only when it
// creates it) and the run directory (0700) with its state, locks and tmp
// subdirectories, as far as missing.
func (r *Run) ensure() error {
	if err := mkdirRuns(r.RunsDir); err != nil {
		return err
	}
	if err := checkRunsDir(r.RunsDir); err != nil {
		return err
	}
	if err := mkdir0700(r.Dir); err != nil {
		return err
	}
	for _, d := range []string{stateName, locksName, tmpName} {
		if err := mkdir0700(filepath.Join(r.Dir, d)); err != nil {
			return err
		}
	}
	return nil
}

// mkdirRuns makes the runs directory, and its parents if missing. Only a
// directory it has just made is chmodded to 0755 (a umask of 077 would
// leave it 0700, and other users' tools could not list runs); an existing
// one keeps whatever mode its owner gave it (init.txtar).
func mkdirRuns(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(dir), 0o755); err == nil {
			err = os.Mkdir(dir, 0o755)
		}
	}
	switch {
	case err == nil:
		return os.Chmod(dir, 0o755)
	case errors.Is(err, os.ErrExist):
		return nil // checkRunsDir says whether it is fit for use
	}
	return err
}

// mkdir0700 makes dir with mode 0700 whatever the umask; an existing
// directory is fine, anything else standing there (a symlink) is not.
func mkdir0700(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		return os.Chmod(dir, 0o700)
	}
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, lerr := os.Lstat(dir)
	if lerr != nil {
		return lerr
	}
	if !fi.IsDir() {
		return &os.PathError{Op: "mkdir", Path: dir, Err: errors.New("exists and is not a directory")}
	}
	return nil
}
