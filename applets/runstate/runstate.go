// Package runstate is the ccci-runstate applet: run-keyed state and a
// per-run ABRA_DIR, over internal/runstate.
//
// Synopsis:
//
//	ccci-runstate [options] init | path NAME | incr NAME | get NAME | ls | rm | hold [--] CMD...
//
// See Usage for the options and examples.
package runstate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	rs "git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

const prog = "runstate"

// Usage is printed for -h.
const Usage = `Usage: ccci-runstate [options] SUBCOMMAND [ARG]

Keeps every piece of a CI run's state under its own directory,
$CCCI_RUNS_DIR/<run>/ (default /var/lib/cc-ci-runs), so two runs of one
domain never share a counter or an ABRA_DIR. The run is --run ID, else
$CCCI_RUN_ID, else $DRONE_BUILD_NUMBER.

Subcommands:
  init        create the run directory (0700) with abra/servers and
              abra/catalogue linked to the shared ones under $ABRA_DIR
              (default $HOME/.abra) and a fresh abra/recipes/; print export
              lines for eval: CCCI_RUN_ID, CCCI_RUNS_DIR, ABRA_DIR (the
              run's own), CCCI_DEPLOY_COUNT_FILE. Idempotent; but a run
              whose live-lock another process tree holds (another build
              with the same id) is refused, exit 1.
  path NAME   print the run-keyed path of state file NAME
  incr NAME   add one to counter NAME atomically; print the new value
  get NAME    print counter NAME (0 if never incremented)
  ls          list runs: id, live or dead, age since last activity, size
  rm          remove the run directory, never following a symlink out of
              it; refuses a live run (exit 1). With --force (a run's own
              EXIT trap) the minimum age does not count, but a live-lock
              held by any process outside rm's own ancestry (another
              applet of the run still working, another build with the
              same id) still refuses it
  hold [--] CMD [ARG...]
              run CMD holding the run's live-lock (shared), so ls and the
              janitor see the run live; CMD's status is passed through.
              The same lifetime as ccci-lock: CMD runs in its own PID
              namespace (or process group); a terminating signal, the
              --deadline or the death of ccci-runstate's parent ends the
              whole tree (SIGTERM, --grace, SIGKILL) and exits 128+N
              (124 for the deadline) once it is gone. With --rm, the
              run's directory is removed once the tree is gone, unless
              another process holds it live: the step wrapper owns the
              run's end, even when nothing of the workspace is left to
              run an EXIT trap with

A run is live while a process holds its live-lock (every ccci applet
working for it does) or while its last activity is younger than the
minimum age (the gap between init and the first command).

Options (before or after the subcommand):
  --run ID        the run (default $CCCI_RUN_ID, then $DRONE_BUILD_NUMBER)
  --min-age DUR   minimum age for ls and rm (default $CCCI_RUN_MIN_AGE or 2m)
  --json          ls: print a JSON array
  --deadline DUR  hold: end CMD's tree after DUR, exit 124 (default 1h;
                  more than 0)
  --grace DUR     hold: SIGTERM to SIGKILL at teardown (default 10s; more
                  than 0)
  --force         rm: ignore the minimum age and the live-lock holds of
                  rm's own ancestors (a run's own EXIT trap)
  --rm            hold: remove the run's directory at the end

Exit status: 0 ok; 1 failure or live run refused; 2 usage error or invalid
run id or state name (nothing is touched and nothing printed on stdout).

Examples:
  eval "$(ccci-runstate init)"
  ccci-runstate incr deploy-count
  test "$(ccci-runstate get deploy-count)" = 1
  trap 'ccci-runstate rm --force' EXIT
  ccci-runstate ls --min-age 0 --json
  ccci-runstate --run 1234 hold -- ./test.sh
`

type opts struct {
	run             string
	minAge          time.Duration
	deadline, grace time.Duration
	json            bool
	force           bool
	rm              bool
}

// npos is how many arguments each subcommand takes.
var npos = map[string]int{"init": 0, "path": 1, "incr": 1, "get": 1, "ls": 0, "rm": 0, "hold": 0}

// Main runs ccci-runstate.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	o := opts{minAge: 2 * time.Minute, deadline: lifetime.DefaultDeadline, grace: lifetime.DefaultGrace}
	if s := env.Getenv("CCCI_RUN_MIN_AGE"); s != "" {
		d, err := applet.ParseDuration(s)
		if err != nil {
			env.Errorf(prog, "CCCI_RUN_MIN_AGE: %v", err)
			return applet.ExitUsage
		}
		o.minAge = d
	}
	fs := applet.NewFlagSet(prog)
	fs.StringVar(&o.run, "run", "", "")
	fs.Var(applet.Duration{D: &o.minAge}, "min-age", "")
	fs.Var(applet.Duration{D: &o.deadline}, "deadline", "")
	fs.Var(applet.Duration{D: &o.grace}, "grace", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.force, "force", false, "")
	fs.BoolVar(&o.rm, "rm", false, "")

	// Options first, then the subcommand, then its arguments (and options
	// again); hold's command starts at the first non-option or after --.
	if err := fs.Parse(args); err != nil {
		return env.Usage(prog, Usage, err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return env.Usage(prog, Usage, errors.New("missing subcommand"))
	}
	sub := rest[0]
	n, ok := npos[sub]
	if !ok {
		return env.Usage(prog, Usage, fmt.Errorf("unknown subcommand %q", sub))
	}
	tail := rest[1:]
	if len(tail) > 0 && tail[0] == "--" && sub == "hold" {
		tail = tail[1:] // "hold -- CMD": fs.Parse already stopped at hold
		return run(ctx, env, fs, o, sub, nil, tail)
	}
	pos, cmd, err := applet.Parse(fs, tail, n)
	if err != nil {
		return env.Usage(prog, Usage, err)
	}
	return run(ctx, env, fs, o, sub, pos, cmd)
}

func run(ctx context.Context, env *applet.Env, fs *flag.FlagSet, o opts, sub string, pos, cmd []string) int {
	if len(pos) < npos[sub] {
		return env.Usage(prog, Usage, fmt.Errorf("%s: missing NAME", sub))
	}
	if sub == "hold" && len(cmd) == 0 {
		return env.Usage(prog, Usage, errors.New("hold: missing command"))
	}
	if sub != "hold" && len(cmd) > 0 {
		return env.Usage(prog, Usage, fmt.Errorf("%s: unexpected argument %q", sub, cmd[0]))
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "json" && sub != "ls", f.Name == "force" && sub != "rm", f.Name == "rm" && sub != "hold":
			bad = fmt.Errorf("--%s does not apply to %s", f.Name, sub)
		}
	})
	if bad != nil {
		return env.Usage(prog, Usage, bad)
	}
	runsDir, err := abs(env, rs.Dir(env))
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	if sub == "ls" {
		return ls(env, runsDir, o)
	}

	// Every other subcommand works on one run: validate its id, and NAME,
	// before anything is touched.
	id := o.run
	if id == "" {
		if id, err = rs.RunID(env); err != nil {
			env.Errorf(prog, "%v", err)
			return applet.ExitUsage
		}
	} else if err := names.RunID(id); err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	if len(pos) == 1 {
		if err := names.StateName(pos[0]); err != nil {
			env.Errorf(prog, "%v", err)
			return applet.ExitUsage
		}
	}
	r, err := rs.Open(runsDir, id)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitFailure
	}
	switch sub {
	case "init":
		return initRun(env, r)
	case "path", "incr", "get":
		return counter(env, r, sub, pos[0])
	case "rm":
		return remove(env, r, o)
	case "hold":
		return hold(ctx, env, r, o, cmd)
	}
	panic("unreachable: " + sub)
}

// abs makes p absolute against env.Dir (or the process's working directory).
func abs(env *applet.Env, p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	if env.Dir != "" {
		return filepath.Join(env.Dir, p), nil
	}
	return filepath.Abs(p)
}
