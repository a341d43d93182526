// Package janitor finds what dead CI runs left behind and reaps it, or, in
// check mode, lists it as leaks and changes nothing.
//
// Guarantees (each proven by the test named):
//   - only apps proven to be ccci runs are candidates: a ccci.run label, or a
//     domain matching Match; a domain matching Keep (warm-*) never is, and a
//     non-candidate is never probed, so no lockfile is ever created for it
//     (TestCandidates, tests/testdata/janitor/untouched.txtar);
//   - a candidate is reaped only under its own app lock, taken
//     non-blocking: a held lock is left alone and reported live, never
//     stolen, however old (TestHeldIsLive, janitor/live.txtar,
//     janitor/stale.txtar); a new run of the domain waits for the reap
//     (janitor/waiter.txtar);
//   - the reap is app.Teardown, the deploy's own teardown; the lockfile is
//     unlinked while still held, so a waiter retries on a fresh file
//     (janitor/orphan.txtar);
//   - one Inventory call per pass, not one per lockfile; lockfiles that are
//     not regular files, and a missing lock dir, are skipped and logged
//     (TestSkips, janitor/skip.txtar);
//   - only apps of the janitor's own lock namespace are probed or reaped;
//     others are reported foreign and never touched nor counted as leaks
//     (TestForeignApps, janitor/foreign.txtar);
//   - check mode and dry-run only look: Probe never creates a file, and no
//     resource, file or process is touched (TestCheckChangesNothing).
package janitor

import (
	"context"
	"regexp"
	"sync"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// DefaultMatch is the run-domain pattern: the first label ends in
// -<digits> (the run's build number) or, as the old harness named its
// apps, -<6 hex digits> (immi-ad3e33), and the second label is "ci", as
// in ccci-test-app-279.ci.example.org. Deliberately narrow: a wrongly
// matched domain would be torn down once its lock is free.
const DefaultMatch = `^[a-z0-9][a-z0-9-]*-([0-9]+|[0-9a-f]{6})\.ci\.`

// DefaultKeep matches long-lived apps, never candidates whatever their
// labels say.
const DefaultKeep = `^warm-`

// Swarm is what the janitor asks of the engine: one inventory per pass,
// and the deploy's teardown for each reaped app.
type Swarm interface {
	Inventory(ctx context.Context) (swarm.Inventory, error)
	// Teardown removes the app of domain and then its env files
	// (app.Teardown); it returns what was removed.
	Teardown(ctx context.Context, domain string, envFiles []string) (swarm.Report, error)
}

// Config is one janitor pass.
type Config struct {
	Locks    lock.Backend
	RunsDir  string
	AbraDir  string // base ABRA_DIR: env files are servers/*/*.env under it
	Swarm    Swarm  // nil when the engine could not be reached (SwarmErr says why)
	SwarmErr error

	// Namespace is Locks' (lock.Backend Namespace): only apps deployed
	// under it are reaped; others are reported foreign, never touched.
	Namespace string
	// Adopt: apps of these namespaces are judged as ours too, their locks
	// probed in Locks (a renamed host, a moved lock dir; AdoptAll: every
	// app in Scope, for a test suite cleaning up after itself).
	Adopt []string

	Match, Keep *regexp.Regexp
	// Scope, when set, limits every source to the domains it matches: a
	// janitor sharing a swarm with other hosts' or tests' runs whose locks
	// live elsewhere must not judge their apps by its own lock dir.
	Scope *regexp.Regexp
	// Run, when set, limits the run directories and processes looked at
	// to this one run's: a run's own leak report is not failed by what
	// other runs left (the cron pass's to reap).
	Run    string
	Stale  time.Duration // warn about locks held longer
	MinAge time.Duration // a run directory younger than this is live
	Grace  time.Duration // SIGTERM → SIGKILL for processes of dead runs
	Look   bool          // check or dry-run: change nothing

	Self   int    // our pid: never signalled, nor its ancestors
	Host   string // this host, to tell a dead local holder
	Holder lock.Holder
	Log    func(Item) // told of every item as it is decided; may be nil
	Now    func() time.Time
}

// Actions an Item reports.
const (
	Reaped  = "reaped"  // removed by us
	Live    = "live"    // belongs to a live run: not a leak
	Warned  = "warned"  // held past --stale, or held by a dead local holder
	Skipped = "skipped" // could not be looked at safely; logged
	Failed  = "error"   // we tried and failed
	Leak    = "leak"    // check/dry-run: would be reaped
	Foreign = "foreign" // another lock namespace's app: never touched, not a leak
)

// Item is one decision about one thing.
type Item struct {
	Action string `json:"action"`
	Kind   string `json:"kind"` // app, lockfile, service, container, network, volume, secret, config, envfile, rundir, process, lock, swarm
	Name   string `json:"name"`
	Domain string `json:"domain,omitempty"`
	Run    string `json:"run,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Report is a pass's outcome.
type Report struct {
	Items []Item        `json:"items"`
	Took  time.Duration `json:"-"`
	Look  bool          `json:"-"`
}

// Count returns how many items have action.
func (r *Report) Count(action string) int {
	n := 0
	for _, it := range r.Items {
		if it.Action == action {
			n++
		}
	}
	return n
}

// pass is the state of one Run.
type pass struct {
	mu  sync.Mutex // guards rep and the maps while lockfiles are probed in parallel
	cfg Config
	rep *Report
	// runs known dead (a lock of theirs was free) and live (holding one).
	deadRuns, liveRuns map[string]bool
}

func (p *pass) add(it Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.Items = append(p.rep.Items, it)
	if p.cfg.Log != nil {
		p.cfg.Log(it)
	}
}

// Run makes one pass: apps (lockfiles, swarm stacks, env files), then
// processes of dead runs, then dead runs' directories.
func Run(ctx context.Context, cfg Config) *Report {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	start := cfg.Now()
	p := &pass{cfg: cfg, rep: &Report{Look: cfg.Look}, deadRuns: map[string]bool{}, liveRuns: map[string]bool{}}
	p.apps(ctx)
	runs := p.runDirs()
	p.processes(runs)
	p.removeRuns(runs)
	p.rep.Took = cfg.Now().Sub(start)
	return p.rep
}
