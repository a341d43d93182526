package janitor

import (
	"slices"
	"strings"
)

// AdoptAll in Config.Adopt adopts every namespace.
const AdoptAll = "*"

// foreignApp reports, and leaves alone, a candidate that is not of this
// janitor's lock namespace (Config.Namespace): its lock, if it has one,
// is not among ours, so a free lock here proves nothing about it. It is
// never probed, reaped or counted as a leak (TestForeignApps,
// tests/testdata/janitor/foreign.txtar).
//
// An app labelled with namespaces is ours only if every label says ours.
// An app with no label (deployed before apps carried one, or by abra,
// whose objects ccci does not label) is ours only if our backend lists
// its lock: a lockfile in our lock dir, as the janitor judged every app
// before namespaces.
//
// Config.Adopt names namespaces judged as ours too; "*" adopts every one,
// and unlabelled apps with them.
func (p *pass) foreignApp(c *candidate) bool {
	why := ""
	if c.stack != nil && len(c.stack.LockNamespaces) > 0 {
		var others []string
		for _, ns := range c.stack.LockNamespaces {
			if !p.ours(ns) {
				others = append(others, ns)
			}
		}
		if len(others) > 0 {
			why = "deployed under lock namespace " + strings.Join(others, ", ") + ", not this janitor's (" + p.cfg.Namespace + ")"
		}
	} else if !c.lockfile && !slices.Contains(p.cfg.Adopt, AdoptAll) {
		why = "no lock namespace label, and no lock at " + p.lockName(c.domain)
	}
	if why == "" {
		return false
	}
	p.add(Item{Action: Foreign, Kind: "app", Name: c.domain, Domain: c.domain, Run: runsOf(c), Detail: why + "; not touched"})
	return true
}

// ours is whether apps of namespace ns are this janitor's to judge.
func (p *pass) ours(ns string) bool {
	return ns == p.cfg.Namespace || slices.Contains(p.cfg.Adopt, ns) || slices.Contains(p.cfg.Adopt, AdoptAll)
}
