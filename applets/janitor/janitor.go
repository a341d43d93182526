// Package janitor is the ccci-janitor applet: flags and wiring around
// internal/janitor, which finds and reaps what dead runs left.
package janitor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fatih/color"

	"git.coopcloud.tech/toolshed/ccci/internal/app"
	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/flock"
	ij "git.coopcloud.tech/toolshed/ccci/internal/janitor"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

const prog = "janitor"

// Usage is printed for -h.
const Usage = `Usage: ccci-janitor [options]

Reaps what dead CI runs left behind on this host and its swarm, safely
beside live runs. Candidates are the apps proven to be ccci runs — a
ccci.run label on the swarm, or a domain matching --match — found from the
lockfiles in $CCCI_LOCK_DIR, the swarm's stacks and the env files under
$ABRA_DIR/servers/*/ (after a reboot /run/lock is empty, the stacks are
not). A domain matching --keep (warm-*) is never a candidate, never probed.

Only apps of this janitor's lock namespace are probed or reaped: those
labelled ccci.lock-namespace with the namespace of $CCCI_LOCK_BACKEND
(file:<hostname>[/<machine id>]:<lock dir>, etcd:<cluster id>:<prefix>),
or unlabelled (deployed by an older ccci, the old harness or abra) with
a lock of theirs in this backend (a lockfile in $CCCI_LOCK_DIR). Any
other is reported "foreign", never touched, and never a leak for
--check.

For each candidate its app lock is tried without blocking. Free: nothing
live holds it, so the app is torn down under that lock (the deploy's own
teardown: services, their tasks, networks, volumes, secrets, configs, the
env file last) and the lockfile is unlinked before the lock is released; a
run starting meanwhile waits, then proceeds. Held: left alone, reported
live; held past --stale, warned about with its holder, never stolen.
Then processes of dead runs (CCCI_RUN_ID in their environment) get
SIGTERM, --grace, SIGKILL, and dead runs' directories are removed.
Only one janitor runs at a time ($CCCI_LOCK_DIR/ccci-janitor.lock); a
second one says so and exits 0. --check and --dry-run instead wait for
the other's pass (up to --wait) and then check; if it is still running
they exit 1, never 0 without having checked.

Options:
  --check          change nothing; list every leak (processes, services,
                   containers, networks, volumes, secrets, configs, env
                   files, run dirs, locks held by dead holders); exit 1 if
                   any (or if the swarm could not be asked, or anything
                   was skipped), else print
                   "no leaks" and exit 0
  --dry-run        as --check, but exit 0: what a pass would reap
  --wait DUR       how long --check/--dry-run wait for another janitor's
                   pass (default 10m; 0: not at all, fail at once)
  --json           print the report as JSON on stdout
  --metrics FILE   write a Prometheus textfile (atomically: temp + rename)
  --stale DUR      warn about locks held longer (default 120m; 0: every
                   held lock)
  --match REGEX    run domains (default ` + ij.DefaultMatch + `:
                   first label ends in -<build number> or, as the old
                   harness names apps, -<6 hex>; second label "ci")
  --keep REGEX     never candidates (default ` + ij.DefaultKeep + `)
  --scope REGEX    consider only domains matching REGEX at all, labels
                   included: for a swarm shared with runs whose locks are
                   not in this host's lock dir (other hosts, test suites)
  --run ID         look only at run ID's directory and processes (other
                   runs' are the cron pass's): a run's own leak report
  --adopt NS       judge apps of lock namespace NS as this janitor's own
                   (after a host rename or a lock dir move; their locks
                   are probed here); repeatable; '*' adopts every app in
                   --scope (which it needs), live runs of other
                   namespaces included
  --min-age DUR    a run dir younger than this is live (default
                   $CCCI_RUN_MIN_AGE or 2m; 0: only a held live-lock)
  --grace DUR      SIGTERM to SIGKILL for processes of dead runs (default
                   10s; more than 0)
  --abra-dir DIR   the base ABRA_DIR (default $ABRA_DIR, else $HOME/.abra)

Environment: CCCI_LOCK_DIR, CCCI_RUNS_DIR, CCCI_LOCK_BACKEND, ABRA_DIR,
DOCKER_HOST, NO_COLOR, FORCE_COLOR.

Exit status: 0 done (or another janitor is running); 1 --check found
leaks, or something could not be reaped; 2 usage error.

Examples:
  ccci-janitor --check || ccci-janitor
  ccci-janitor --dry-run --json
  ccci-janitor --metrics /var/lib/node_exporter/textfile/ccci.prom
  ccci-janitor --match '^[a-z0-9-]+-[0-9]+\.ci\.coopcloud\.tech$' --stale 3h
`

type options struct {
	check, dryRun, json bool
	metrics             string
	stale, minAge       time.Duration
	grace, wait         time.Duration
	match, keep, scope  string
	run                 string
	abraDir             string
	adopt               adoptFlag
}

// adoptFlag collects --adopt NS.
type adoptFlag []string

func (a *adoptFlag) String() string { return "" }

// Set refuses what cannot be a lock namespace: a typo would otherwise
// adopt nothing, silently.
func (a *adoptFlag) Set(s string) error {
	if !validNamespace(s) {
		return errors.New("not a lock namespace: want file:HOST:/LOCK/DIR, etcd:CLUSTER-ID:PREFIX or '*'")
	}
	*a = append(*a, s)
	return nil
}

// validNamespace is whether s has the shape lock.Backend.Namespace gives
// (internal/flock, internal/etcdlock), or is '*'.
func validNamespace(s string) bool {
	kind, rest, _ := strings.Cut(s, ":")
	id, tail, ok := strings.Cut(rest, ":")
	switch {
	case s == "*":
		return true
	case !ok || id == "":
		return false
	case kind == "file":
		return strings.HasPrefix(tail, "/")
	case kind == "etcd":
		return tail != ""
	}
	return false
}

func parse(env *applet.Env, args []string) (*options, error) {
	o := &options{stale: 120 * time.Minute, minAge: 2 * time.Minute, grace: 10 * time.Second,
		wait:  10 * time.Minute,
		match: ij.DefaultMatch, keep: ij.DefaultKeep}
	if v := env.Getenv("CCCI_RUN_MIN_AGE"); v != "" {
		d, err := applet.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("CCCI_RUN_MIN_AGE: %v", err)
		}
		o.minAge = d
	}
	o.abraDir, _ = app.AbraDir(env.Getenv) // none: no env files to look at
	fs := applet.NewFlagSet(prog)
	fs.BoolVar(&o.check, "check", false, "")
	fs.BoolVar(&o.dryRun, "dry-run", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.metrics, "metrics", "", "")
	fs.Var(applet.Duration{D: &o.stale}, "stale", "")
	fs.Var(applet.Duration{D: &o.minAge}, "min-age", "")
	fs.Var(applet.Duration{D: &o.grace}, "grace", "")
	fs.Var(applet.Duration{D: &o.wait}, "wait", "")
	fs.StringVar(&o.match, "match", o.match, "")
	fs.StringVar(&o.keep, "keep", o.keep, "")
	fs.StringVar(&o.scope, "scope", "", "")
	fs.StringVar(&o.run, "run", "", "")
	fs.StringVar(&o.abraDir, "abra-dir", o.abraDir, "")
	fs.Var(&o.adopt, "adopt", "")
	pos, cmd, err := applet.Parse(fs, args, 0)
	if err != nil {
		return nil, err
	}
	if len(pos)+len(cmd) > 0 {
		return nil, fmt.Errorf("unexpected argument %q", append(pos, cmd...)[0])
	}
	if o.grace == 0 {
		return nil, errors.New("--grace must be more than 0")
	}
	// '*' judges every app it sees as ours, other namespaces' live runs
	// included: only a --scope keeps that to the caller's own apps.
	if slices.Contains(o.adopt, ij.AdoptAll) && o.scope == "" {
		return nil, errors.New("--adopt '*' needs --scope: it takes every app in scope for this janitor's own, other namespaces' live runs included")
	}
	return o, nil
}

// Main runs ccci-janitor.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	o, err := parse(env, args)
	if err != nil {
		return env.Usage(prog, Usage, err)
	}
	// The janitor's own lock is in the lock dir whatever the backend.
	lockDir := env.GetenvDefault("CCCI_LOCK_DIR", flock.DefaultDir)
	cfg := ij.Config{
		RunsDir: runstate.Dir(env),
		Adopt:   o.adopt,
		AbraDir: o.abraDir,
		Stale:   o.stale, MinAge: o.minAge, Grace: o.grace,
		Look: o.check || o.dryRun,
		Self: proc.Self(),
	}
	if cfg.Match, err = regexp.Compile(o.match); err != nil {
		return env.Usage(prog, Usage, fmt.Errorf("--match: %v", err))
	}
	if cfg.Keep, err = regexp.Compile(o.keep); err != nil {
		return env.Usage(prog, Usage, fmt.Errorf("--keep: %v", err))
	}
	if o.run != "" {
		if err := names.RunID(o.run); err != nil {
			return env.Usage(prog, Usage, fmt.Errorf("--run: %v", err))
		}
		cfg.Run = o.run
	}
	if o.scope != "" {
		if cfg.Scope, err = regexp.Compile(o.scope); err != nil {
			return env.Usage(prog, Usage, fmt.Errorf("--scope: %v", err))
		}
	}
	cfg.Host, _ = os.Hostname()
	cfg.Holder = lock.Holder{Run: env.GetenvDefault("CCCI_RUN_ID", "ccci-janitor"), PID: cfg.Self, Host: cfg.Host, Cmd: "ccci-janitor"}

	release, other, err := exclusive(ctx, o, lockDir)
	switch {
	case other != "" && cfg.Look:
		env.Errorf(prog, "another janitor is still running (%s) after --wait %v; nothing checked", other, o.wait)
		return applet.ExitFailure
	case other != "":
		fmt.Fprintf(env.Stderr, "ccci-janitor: another janitor is running (%s); exiting\n", other)
		return applet.ExitOK
	case err != nil && errors.Is(err, os.ErrNotExist):
		// No lock dir (its parent is gone): no app lock can be held
		// either; every reap is still under the app's lock.
		env.Errorf(prog, "skipped janitor lock: %v", err)
	case err != nil:
		// Two janitors never run at once: a janitor lock we cannot
		// take (another user's, planted in a shared lock dir) stops
		// the pass, reaping nothing (TestUnprivileged).
		env.Errorf(prog, "cannot take the janitor lock: %v; nothing done", err)
		return applet.ExitFailure
	default:
		defer release()
	}

	if cfg.Locks, err = lock.Open(env); err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage // as ccci-lock: a bad CCCI_LOCK_BACKEND is invalid input
	}
	defer cfg.Locks.Close()
	if cfg.Namespace, err = cfg.Locks.Namespace(ctx); err != nil {
		env.Errorf(prog, "%v; nothing checked or reaped", err)
		return applet.ExitFailure
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	sc, err := swarm.New(pctx, env.Getenv)
	cancel()
	if err != nil {
		cfg.SwarmErr = err
	} else {
		defer sc.Close()
		cfg.Swarm = ij.Engine(sc, swarm.TeardownOptions{})
	}
	out := bufio.NewWriter(env.Stdout)
	cfg.Log = logger(env, o, out)
	rep := ij.Run(ctx, cfg)
	out.Flush()
	return finish(env, o, rep)
}

// exclusive takes the janitor lock: at once for a reaping pass (a second
// reaper has nothing to do), waiting up to --wait for a look (--check,
// --dry-run), whose exit 0 must mean "checked, no leaks".
func exclusive(ctx context.Context, o *options, lockDir string) (func(), string, error) {
	if o.check || o.dryRun {
		return ij.ExclusiveWait(ctx, lockDir, o.wait)
	}
	return ij.Exclusive(lockDir)
}

// logger prints items as they are decided: the report on stdout (unless
// --json), warnings, skips and errors on stderr, coloured on a terminal.
// Lines about bare lockfiles (thousands in a pass, microseconds each) are
// buffered in out, written with the first line 100 ms after the last
// write, and at the end; every other line at once.
func logger(env *applet.Env, o *options, out *bufio.Writer) func(ij.Item) {
	var flushed time.Time
	warn, bad := color.New(color.FgYellow), color.New(color.FgRed)
	if lock.ColourOn(env) {
		warn.EnableColor()
		bad.EnableColor()
	} else {
		warn.DisableColor()
		bad.DisableColor()
	}
	return func(it ij.Item) {
		switch it.Action {
		case ij.Warned, ij.Skipped:
			out.Flush()
			warn.Fprint(env.Stderr, "ccci-janitor: "+ij.Line(it))
			fmt.Fprintln(env.Stderr)
		case ij.Failed:
			out.Flush()
			bad.Fprint(env.Stderr, "ccci-janitor: "+ij.Line(it))
			fmt.Fprintln(env.Stderr)
		default:
			if o.json {
				return
			}
			out.WriteString(ij.Line(it) + "\n")
			if now := time.Now(); it.Kind != "lockfile" || now.Sub(flushed) > 100*time.Millisecond {
				out.Flush()
				flushed = now
			}
		}
	}
}

func finish(env *applet.Env, o *options, rep *ij.Report) int {
	if o.metrics != "" {
		if err := rep.WriteMetrics(o.metrics, time.Now()); err != nil {
			env.Errorf(prog, "metrics: %v", err)
			rep.Items = append(rep.Items, ij.Item{Action: ij.Failed, Kind: "metrics", Name: o.metrics, Detail: err.Error()})
		}
	}
	if o.json {
		rep.WriteJSON(env.Stdout)
	} else {
		fmt.Fprintln(env.Stdout, rep.Summary())
	}
	errs := rep.Count(ij.Failed)
	// What was skipped was not checked: --check cannot call it clean.
	skipped := rep.Count(ij.Skipped)
	if o.check && (rep.Leaks() > 0 || errs > 0 || skipped > 0) {
		if rep.Leaks() == 0 {
			env.Errorf(prog, "cannot prove zero leaks: %s, %s", plural(errs, "error"), strconv.Itoa(skipped)+" skipped")
		}
		return applet.ExitFailure
	}
	if !o.check && !o.dryRun && errs > 0 {
		return applet.ExitFailure
	}
	// A metrics file that could not be written fails every mode: the
	// monitoring reading it would otherwise go stale unnoticed.
	if o.metrics != "" && metricsFailed(rep) {
		return applet.ExitFailure
	}
	return applet.ExitOK
}

func metricsFailed(rep *ij.Report) bool {
	for _, it := range rep.Items {
		if it.Action == ij.Failed && it.Kind == "metrics" {
			return true
		}
	}
	return false
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return strconv.Itoa(n) + " " + s + "s"
}
