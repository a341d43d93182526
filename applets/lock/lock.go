// Package lock is the ccci-lock applet: it holds a domain's app lock while a
// command runs, as flock(1) does, inside a run lifetime that ends the whole
// command tree before the lock is released.
//
// Synopsis:
//
//	ccci-lock [options] DOMAIN [--] COMMAND [ARG...]
//	ccci-lock [options] DOMAIN -c 'SHELL COMMAND'
//	ccci-lock --probe DOMAIN
//	ccci-lock --status [--json]
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-lock [options] DOMAIN [--] COMMAND [ARG...]
       ccci-lock [options] DOMAIN -c 'SHELL COMMAND'
       ccci-lock --probe DOMAIN
       ccci-lock --status [--json]

Holds DOMAIN's app lock ($CCCI_LOCK_DIR/cc-ci-app-DOMAIN.lock, a kernel
flock) while COMMAND runs in its own PID namespace; the lock is released
only once every process of the run is gone. COMMAND sees CCCI_LOCK_DOMAIN
and CCCI_LOCK_TOKEN (a fencing token that grows with every acquisition).
While it waits, ccci-lock prints who holds the lock.

Options (also accepted after DOMAIN, up to --):
  -n, --nonblock             fail at once if the lock is held
  -w, --wait SECS            give up after waiting this long (90s, 2m, 0.5;
                             0: do not wait, as -n)
  -E, --conflict-exit-code N exit status for -n and -w failures (default 1)
  -s, --shared               take a shared lock
  -c, --command CMD          run CMD with /bin/sh -c
      --deadline DUR         end the run after DUR, exit 124 (default 1h;
                             more than 0)
      --grace DUR            SIGTERM to SIGKILL grace at teardown (default 10s;
                             more than 0)
      --probe                exit 0 if DOMAIN's lock is free, 1 if held (printing
                             the holder); runs nothing, creates nothing
      --status               list every lockfile: free/held and its holder
                             (of a free one: the last holder, from its record)
      --json                 --status as JSON

A duration out of range (negative, NaN, inf, past 292 years) exits 2
naming its option.

Exit status: the command's; 1 (or -E) on conflict or -w timeout; 2 on usage
or invalid input; 124 when the deadline expired; 128+N after signal N.

Environment: CCCI_LOCK_DIR (default /run/lock), CCCI_LOCK_BACKEND (file,
etcd), CCCI_RUN_ID (else DRONE_BUILD_NUMBER) recorded as the holder's run;
for etcd: CCCI_ETCD_ENDPOINTS, CCCI_ETCD_TTL (10s), CCCI_ETCD_MARGIN (TTL/4:
the command ends that long before the lease could expire, exit 75),
CCCI_ETCD_TIMEOUT (5s), CCCI_ETCD_PREFIX (/ccci/lock/).

Examples:
  ccci-lock example.org -- abra app deploy example.org
  ccci-lock -n example.org -- true || echo "a run is in flight"
  ccci-lock -w 10m -c 'make deploy' example.org
  ccci-lock --status --json
`

const prog = "lock"

// Main runs ccci-lock.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	o, err := parse(args)
	if err != nil {
		return env.Usage(prog, Usage, err)
	}
	if o.status {
		return status(ctx, env, o.json)
	}
	domain, err := names.Domain(o.domain)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	b, err := lock.Open(env)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	defer b.Close()
	if o.probe {
		return probe(ctx, env, b, domain)
	}
	h, err := holder(env)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	return hold(ctx, env, b, domain, h, o)
}

// hold runs the command under the lock, inside one lifetime: a signal or
// the deadline while waiting ends the wait; while running, ends the tree.
func hold(ctx context.Context, env *applet.Env, b lock.Backend, domain string, h lock.Holder, o *options) int {
	lt := lifetime.Begin(ctx, lifetime.Options{Prog: prog, Stderr: env.Stderr, Deadline: o.deadline, Grace: o.grace, Exits: env.Exits})
	defer lt.End()
	defer runstate.HoldCurrent(env, "lock")() // the run is live while we work for it
	l, err := b.Acquire(lt.Context(), lock.Request{
		Domain:   domain,
		Shared:   o.shared,
		NonBlock: o.nonblock,
		Wait:     o.wait,
		Holder:   h,
		Notify:   lock.Progress(env.Stderr, lock.ColourOn(env)),
	})
	if err != nil {
		if st := lt.Status(); st != 0 {
			return st
		}
		env.Errorf(prog, "%v", err)
		if errors.Is(err, lock.ErrWouldBlock) || errors.Is(err, lock.ErrTimeout) {
			return o.conflict
		}
		return acquireFailed(err)
	}
	lt.EndOnWithin(l.Lost(), lock.Margin(l), applet.ExitLost, "app lock lost (lease about to expire; another run may hold it soon)")
	// Released only after Run returned: every process of the run is gone.
	defer func() {
		if err := l.Release(); err != nil {
			env.Errorf(prog, "%v", err)
		}
	}()
	st, err := lt.Run(lifetime.Cmd{
		Argv:   o.argv,
		Env:    env.With("CCCI_LOCK_DOMAIN="+domain, "CCCI_LOCK_TOKEN="+strconv.FormatUint(l.Token(), 10)).Environ,
		Dir:    env.Dir,
		Stdin:  env.Stdin,
		Stdout: env.Stdout,
		Stderr: env.Stderr,
		// Writes a backend makes after acquiring wait for the command to be
		// on its way, not the other way round.
		Started: func() { lock.Started(l) },
	})
	if err != nil {
		env.Errorf(prog, "%v", err)
	}
	return st
}

// holder is the record this run stores in the lock for diagnostics: run
// id, pid, host, start time. Nothing from the command line or the
// environment: the lockfile is world-readable and outlives the run, and
// argv may carry a password (TestHolderRecordNoArgv). The run id is
// validated as the contract says (names.RunID, else exit 2): it is printed
// to every waiting run.
func holder(env *applet.Env) (lock.Holder, error) {
	src, run := "CCCI_RUN_ID", env.Getenv("CCCI_RUN_ID")
	if run == "" {
		src, run = "DRONE_BUILD_NUMBER", env.Getenv("DRONE_BUILD_NUMBER")
	}
	if run == "" {
		run = "-"
	} else if err := names.RunID(run); err != nil {
		return lock.Holder{}, fmt.Errorf("%s: %v", src, err)
	}
	host, _ := os.Hostname()
	return lock.Holder{Run: run, PID: proc.Self(), Host: host, Since: time.Now()}, nil
}

// acquireFailed is the status for a lock that could not be taken at all:
// an exhausted fencing token breaks a run invariant (3); a
// full or failing disk is an operational failure (1); anything else — a
// symlink, a directory or a foreign file at the lockfile path, a lock dir
// that is missing its parent or not writable — is bad configuration, which
// the contract counts as invalid input (2).
func acquireFailed(err error) int {
	if errors.Is(err, lock.ErrTokenExhausted) {
		return applet.ExitInvariant
	}
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO} {
		if errors.Is(err, e) {
			return applet.ExitFailure
		}
	}
	return applet.ExitUsage
}
