package janitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
)

// apps decides every candidate. Bare lockfiles — no app — are probed by
// a few workers as they are listed, as a pass over thousands of them is
// syscall-bound (.ci/bench-janitor); the apps then, one at a time (a reap
// holds the app's lock for seconds, and the engine serializes removals
// anyway).
func (p *pass) apps(ctx context.Context) {
	g := p.gather(ctx)
	// Each worker takes a batch of listed locks and judges each by its
	// name there (a lock of ours alone: never foreign), which is regexp
	// work better spread than done up front; a lock an app may own is
	// kept for the apps.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		appLock []lock.Listed
	)
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range g.locks {
				for _, l := range batch {
					switch {
					case g.isApp(l.Domain):
						mu.Lock()
						appLock = append(appLock, l)
						mu.Unlock()
					case p.isCandidate(l.Domain):
						p.one(ctx, &candidate{domain: l.Domain, lockfile: true, where: l.Where})
					}
				}
			}
		}()
	}
	wg.Wait()
	apps, bare := p.candidates(g, appLock)
	for _, c := range bare {
		if p.isCandidate(c.domain) {
			p.one(ctx, c)
		}
	}
	for _, c := range apps {
		if p.foreignApp(c) {
			continue
		}
		p.one(ctx, c)
	}
}

func (p *pass) one(ctx context.Context, c *candidate) {
	if p.cfg.Look {
		p.look(ctx, c)
	} else {
		p.reap(ctx, c)
	}
}

// reap takes the candidate's lock without blocking; if it gets it nothing
// live holds the app, so it tears the app down under the lock and unlinks
// the lockfile before releasing it. A run starting meanwhile waits on the
// lock and, once we release, retries on a fresh lockfile.
func (p *pass) reap(ctx context.Context, c *candidate) {
	// A bare lockfile is held for microseconds, only to unlink it: a probe
	// lock (no record, no token) keeps a pass over thousands cheap
	// (.ci/bench-janitor). Reaping an app writes our record, so a run
	// waiting meanwhile is told the janitor holds it.
	bare := c.bare()
	l, err := p.cfg.Locks.Acquire(ctx, lock.Request{Domain: c.domain, NonBlock: true, Holder: p.cfg.Holder, Probe: bare})
	if errors.Is(err, lock.ErrWouldBlock) {
		held, h, perr := p.cfg.Locks.Probe(ctx, c.domain)
		if perr == nil && !held {
			// Released between our two looks: the next pass reaps it.
			p.add(Item{Action: Live, Kind: "app", Name: c.domain, Domain: c.domain, Detail: "lock released while we looked; next pass"})
			return
		}
		p.held(c, h)
		return
	}
	if bare && errors.Is(err, fs.ErrNotExist) {
		return // unlinked since the lock dir was listed: nothing to reap (TestLockfileGoneBeforeReap)
	}
	if err != nil {
		p.add(Item{Action: Skipped, Kind: "lockfile", Name: p.lockName(c.domain), Domain: c.domain, Detail: err.Error()})
		return
	}
	defer l.Release()
	if c.stack != nil || len(c.envFiles) > 0 {
		if p.cfg.Swarm == nil {
			p.add(Item{Action: Failed, Kind: "app", Name: c.domain, Domain: c.domain, Detail: "the swarm is unreachable: not reaped"})
			return
		}
		rep, err := p.cfg.Swarm.Teardown(ctx, c.domain, c.envFiles)
		it := Item{Action: Reaped, Kind: "app", Name: c.domain, Domain: c.domain, Run: runsOf(c),
			Detail: fmt.Sprintf("%d resources, %d env files", len(rep.Removed), len(c.envFiles))}
		if err != nil {
			// The lockfile stays: the env file was kept too, so the next
			// pass finds the app again.
			it.Action, it.Detail = Failed, err.Error()
			p.add(it)
			return
		}
		p.add(it)
	}
	if err := l.Unlink(); err != nil {
		p.add(Item{Action: Failed, Kind: "lockfile", Name: p.lockName(c.domain), Domain: c.domain, Detail: err.Error()})
		return
	}
	if c.lockfile && bare {
		p.add(Item{Action: Reaped, Kind: "lockfile", Name: c.where, Domain: c.domain, Detail: "no app"})
	}
}

// look is reap without changing anything: Probe never creates a file and
// releases at once. A free candidate's every resource and env file is a
// leak; a free lockfile alone is not (it holds nothing).
func (p *pass) look(ctx context.Context, c *candidate) {
	held, h, err := p.cfg.Locks.Probe(ctx, c.domain)
	if err != nil {
		p.add(Item{Action: Skipped, Kind: "lockfile", Name: p.lockName(c.domain), Domain: c.domain, Detail: err.Error()})
		return
	}
	if held {
		p.held(c, h)
		return
	}
	run := runsOf(c)
	if c.stack != nil {
		for _, r := range c.stack.All() {
			p.add(Item{Action: Leak, Kind: r.Kind, Name: r.Name, Domain: c.domain, Run: run})
		}
	}
	for _, f := range c.envFiles {
		p.add(Item{Action: Leak, Kind: "envfile", Name: f, Domain: c.domain, Run: run})
	}
}

// held reports a candidate whose lock someone holds: live, never touched.
// Held past Stale, or by a pid of this host that no longer exists (a lease
// outliving its holder), it is also warned about — still never stolen.
func (p *pass) held(c *candidate, h *lock.Holder) {
	if h == nil || h.Foreign {
		p.heldNoRecord(c, h)
		return
	}
	it := Item{Action: Live, Kind: "app", Name: c.domain, Domain: c.domain, Detail: lock.Describe(h)}
	if h != nil {
		it.Run = h.Run
		p.mu.Lock()
		p.liveRuns[h.Run] = true
		p.mu.Unlock()
	}
	p.add(it)
	if h == nil {
		return
	}
	if p.cfg.Stale > 0 && !h.Since.IsZero() {
		if age := p.cfg.Now().Sub(h.Since); age > p.cfg.Stale {
			p.add(Item{Action: Warned, Kind: "lock", Name: c.domain, Domain: c.domain, Run: h.Run,
				Detail: fmt.Sprintf("held for %s, past --stale %s, by %s; not stolen", lock.Round(age), p.cfg.Stale, lock.Describe(h))})
		}
	}
	if h.PID > 0 && h.Host != "" && h.Host == p.cfg.Host && !proc.Exists(h.PID) {
		act := Warned
		if p.cfg.Look {
			act = Leak
		}
		p.add(Item{Action: act, Kind: "lock", Name: c.domain, Domain: c.domain, Run: h.Run,
			Detail: fmt.Sprintf("held, but its holder pid %d is gone (%s)", h.PID, lock.Describe(h))})
	}
}

func (p *pass) lockName(d string) string { return p.cfg.Locks.Where(d) }

func runsOf(c *candidate) string {
	if c.stack == nil {
		return ""
	}
	return strings.Join(c.stack.Runs, ",")
}
