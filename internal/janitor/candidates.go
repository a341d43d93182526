package janitor

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
	"git.coopcloud.tech/toolshed/ccci/internal/names"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm"
)

// candidate is one app domain that may be a dead run's, with what was seen
// of it.
type candidate struct {
	domain   string
	lockfile bool         // the backend lists its lock (a lockfile exists)
	where    string       // the listed lock's place (Listed.Where), for messages
	stack    *swarm.Stack // nil: nothing on the swarm
	envFiles []string
}

// bare is whether the candidate is a lock alone: nothing on the swarm, no
// env file.
func (c *candidate) bare() bool { return c.stack == nil && len(c.envFiles) == 0 }

// sources gathers what the three sources know, by domain, and the stacks
// whose domain could not be told.
type sources struct {
	byDomain map[string]*candidate
	labelled map[string]bool // domains with a ccci.run label on the swarm
}

func (s *sources) get(d string) *candidate {
	if s.byDomain == nil {
		s.byDomain = map[string]*candidate{}
	}
	c := s.byDomain[d]
	if c == nil {
		c = &candidate{domain: d}
		s.byDomain[d] = c
	}
	return c
}

// gathered is what a pass knows of its candidates while the locks are
// still being listed: the env files and the swarm's inventory, read first,
// and the locks as the backend lists them, in batches.
type gathered struct {
	s      *sources
	inv    swarm.Inventory
	invErr error
	// apps are the domains something other than a lock may belong to: an
	// env file's, a stack's by its ccci.domain label or by its name with
	// underscores turned back into dots; unlabelled holds the names of the
	// stacks without that label, which a lock of the same stack name is
	// taken for (stacks).
	apps       map[string]bool
	unlabelled map[string]bool
	locks      <-chan []lock.Listed // closed once the listing is done
}

// lockBatch is how many listed locks go to a worker at a time: a channel
// handoff per lock would cost more than the lock's own system calls.
const lockBatch = 128

// gather reads the env files and asks the swarm for its inventory while
// the backend starts listing its locks, and returns once the first two are
// in: from then on every lock can be told bare (a lock alone) or an app's
// as it is listed.
func (p *pass) gather(ctx context.Context) *gathered {
	g := &gathered{s: &sources{labelled: map[string]bool{}}, apps: map[string]bool{}, unlabelled: map[string]bool{}}
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		if p.cfg.Swarm != nil {
			g.inv, g.invErr = p.cfg.Swarm.Inventory(ctx)
		}
	}()
	locks := make(chan []lock.Listed, 8)
	g.locks = locks
	go func() {
		defer close(locks)
		seen := map[string]bool{} // a domain listed twice is one candidate
		var batch []lock.Listed
		p.lockfiles(ctx, func(l lock.Listed) {
			if seen[l.Domain] {
				return
			}
			seen[l.Domain] = true
			if batch = append(batch, l); len(batch) == lockBatch {
				locks <- batch
				batch = nil
			}
		})
		if len(batch) > 0 {
			locks <- batch
		}
	}()
	p.envFiles(g.s)
	for d := range g.s.byDomain {
		g.apps[d] = true
	}
	<-asked
	if p.cfg.Swarm != nil && g.invErr == nil {
		for name, st := range g.inv {
			d := st.Domain
			if d == "" {
				g.unlabelled[name] = true
				d = strings.ReplaceAll(name, "_", ".")
			}
			if d, err := names.Domain(d); err == nil {
				g.apps[d] = true
			}
		}
	}
	return g
}

// isApp is whether a lock of domain d may be an app's rather than a lock
// alone: the way stacks names a stack back to its domain could lead to d.
func (g *gathered) isApp(d string) bool {
	return g.apps[d] || len(g.unlabelled) > 0 && g.unlabelled[names.StackName(d)]
}

// candidates returns, once the listing is done, the apps proven to be
// ccci runs, sorted by domain: a ccci.run label on the swarm, or a domain
// matching Match; never one matching Keep. locks are the listed locks
// isApp sent this way. Any of them that turns out bare after all (a stack
// name two domains share) comes back in bare, not yet judged by name.
func (p *pass) candidates(g *gathered, locks []lock.Listed) (apps, bare []*candidate) {
	s := g.s
	for _, l := range locks {
		c := s.get(l.Domain)
		c.lockfile, c.where = true, l.Where
	}
	p.stacks(s, g.inv, g.invErr)
	for d, c := range s.byDomain {
		switch {
		case c.bare():
			bare = append(bare, c)
		case !p.inScope(d):
		case s.labelled[d] || p.isCandidate(d):
			apps = append(apps, c)
		}
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].domain < apps[j].domain })
	return apps, bare
}

// isCandidate is whether an app with no ccci.run label is a candidate: in
// scope, not kept, and its domain matches Match.
func (p *pass) isCandidate(d string) bool {
	return p.inScope(d) && p.cfg.Match != nil && p.cfg.Match.MatchString(d)
}

// eacher is a backend that hands its locks over as it lists them
// (internal/flock: as the lock dir is read).
type eacher interface {
	Each(ctx context.Context, fn func(lock.Listed)) error
}

// lockfiles lists the backend's locks without probing any (lock.Backend
// List) and calls fn for each that can be probed: one that cannot be
// probed safely is skipped and logged, if its domain could be a
// candidate; a name that is no domain's, always.
func (p *pass) lockfiles(ctx context.Context, fn func(lock.Listed)) {
	each := func(l lock.Listed) {
		switch {
		case l.Err == nil:
			fn(l)
		case l.Domain == "" || p.isCandidate(l.Domain):
			p.add(Item{Action: Skipped, Kind: "lockfile", Name: l.Where, Domain: l.Domain, Detail: l.Err.Error()})
		}
	}
	var err error
	if e, ok := p.cfg.Locks.(eacher); ok {
		err = e.Each(ctx, each)
	} else {
		var ls []lock.Listed
		ls, err = p.cfg.Locks.List(ctx)
		for _, l := range ls {
			each(l)
		}
	}
	if pe, ok := err.(*os.PathError); ok {
		p.add(Item{Action: Skipped, Kind: "lockdir", Name: pe.Path, Detail: errDetail(err)})
	} else if err != nil {
		p.add(Item{Action: Skipped, Kind: "lock", Name: "list", Detail: err.Error()})
	}
}

// inScope is whether d may be a candidate at all: in Scope, not kept.
func (p *pass) inScope(d string) bool {
	return (p.cfg.Scope == nil || p.cfg.Scope.MatchString(d)) && !(p.cfg.Keep != nil && p.cfg.Keep.MatchString(d))
}

// envFiles finds $ABRA_DIR/servers/*/*.env.
func (p *pass) envFiles(s *sources) {
	if p.cfg.AbraDir == "" {
		return
	}
	servers := filepath.Join(p.cfg.AbraDir, "servers")
	dirs, err := os.ReadDir(servers)
	if err != nil {
		if !os.IsNotExist(err) {
			p.add(Item{Action: Skipped, Kind: "envfile", Name: servers, Detail: errDetail(err)})
		}
		return
	}
	for _, sd := range dirs {
		dir := filepath.Join(servers, sd.Name())
		fs, err := os.ReadDir(dir) // follows a symlinked server dir, as abra does
		if err != nil {
			continue // a file, not a server
		}
		for _, f := range fs {
			if !strings.HasSuffix(f.Name(), ".env") || !f.Type().IsRegular() {
				continue
			}
			d, err := names.Domain(strings.TrimSuffix(f.Name(), ".env"))
			if err != nil {
				continue
			}
			c := s.get(d)
			c.envFiles = append(c.envFiles, filepath.Join(dir, f.Name()))
		}
	}
}

// stacks adds the swarm's stacks (inv, or the error asking for it), named back to their domain by the
// ccci.domain label, else by the env file or lockfile of that stack name,
// else by turning underscores back into dots (a domain has none).
func (p *pass) stacks(s *sources, inv swarm.Inventory, err error) {
	if p.cfg.Swarm == nil {
		if p.cfg.SwarmErr != nil {
			p.add(Item{Action: Failed, Kind: "swarm", Name: "inventory", Detail: p.cfg.SwarmErr.Error()})
		}
		return
	}
	if err != nil {
		p.add(Item{Action: Failed, Kind: "swarm", Name: "inventory", Detail: err.Error()})
		return
	}
	// Stack names back to the domains of lockfiles and env files, made
	// only when a stack has no ccci.domain label. Every lock whose stack
	// name is such a stack's is here (gathered.isApp), and, with the env
	// files, only those can be found in it.
	var byStack map[string]string
	for _, st := range inv {
		if st.Domain == "" {
			byStack = make(map[string]string, len(s.byDomain))
			for d := range s.byDomain {
				byStack[names.StackName(d)] = d
			}
			break
		}
	}
	for _, name := range inv.Stacks() {
		st := inv[name]
		d := st.Domain
		if d == "" {
			d = byStack[name]
		}
		if d == "" {
			d = strings.ReplaceAll(name, "_", ".")
		}
		d, err := names.Domain(d)
		if err != nil {
			if len(st.Runs) > 0 && p.cfg.Scope == nil {
				p.add(Item{Action: Skipped, Kind: "stack", Name: name, Run: strings.Join(st.Runs, ","), Detail: "labelled as a ccci run but its domain is unknown: " + err.Error()})
			}
			continue
		}
		c := s.get(d)
		c.stack = st
		if len(st.Runs) > 0 {
			s.labelled[d] = true
		}
	}
}

func errDetail(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
