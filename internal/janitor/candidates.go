package janitor

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

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

// candidates returns the apps proven to be ccci runs, sorted by domain:
// a ccci.run label on the swarm, or a domain matching Match; never one
// matching Keep. Bare locks (nothing on the swarm, no env file: thousands
// in a pass) come back apart, unsorted and not yet judged by name: the
// workers that probe them call isCandidate, in parallel.
func (p *pass) candidates(ctx context.Context) (apps, bare []*candidate) {
	s := &sources{labelled: map[string]bool{}}
	// The engine's inventory (six list calls) is asked for while the lock
	// dir and env files are read.
	var inv swarm.Inventory
	var invErr error
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		if p.cfg.Swarm != nil {
			inv, invErr = p.cfg.Swarm.Inventory(ctx)
		}
	}()
	p.lockfiles(ctx, s)
	p.envFiles(s)
	<-asked
	p.stacks(s, inv, invErr)
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

// lockfiles lists the backend's locks without probing any (lock.Backend
// List): one that cannot be probed safely is skipped and logged, if its
// domain could be a candidate; a name that is no domain's, always.
func (p *pass) lockfiles(ctx context.Context, s *sources) {
	ls, err := p.cfg.Locks.List(ctx)
	if pe, ok := err.(*os.PathError); ok {
		p.add(Item{Action: Skipped, Kind: "lockdir", Name: pe.Path, Detail: errDetail(err)})
	} else if err != nil {
		p.add(Item{Action: Skipped, Kind: "lock", Name: "list", Detail: err.Error()})
	}
	// Sized for every lock at once: a map grown lock by lock rehashes
	// over and over in a pass over thousands.
	s.byDomain = make(map[string]*candidate, len(ls))
	for _, l := range ls {
		switch {
		case l.Err == nil:
			c := s.get(l.Domain)
			c.lockfile, c.where = true, l.Where
		case l.Domain == "" || p.isCandidate(l.Domain):
			p.add(Item{Action: Skipped, Kind: "lockfile", Name: l.Where, Domain: l.Domain, Detail: l.Err.Error()})
		}
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
	// only when a stack has no ccci.domain label: with thousands of
	// lockfiles it would be the pass's largest map.
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
