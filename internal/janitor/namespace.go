package janitor

import "strings"

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
func (p *pass) foreignApp(c *candidate) bool {
	why := ""
	if c.stack != nil && len(c.stack.LockNamespaces) > 0 {
		var others []string
		for _, ns := range c.stack.LockNamespaces {
			if ns != p.cfg.Namespace {
				others = append(others, ns)
			}
		}
		if len(others) > 0 {
			why = "deployed under lock namespace " + strings.Join(others, ", ") + ", not this janitor's (" + p.cfg.Namespace + ")"
		}
	} else if !c.lockfile {
		why = "no lock namespace label, and no lock at " + p.lockName(c.domain)
	}
	if why == "" {
		return false
	}
	p.add(Item{Action: Foreign, Kind: "app", Name: c.domain, Domain: c.domain, Run: runsOf(c), Detail: why + "; not touched"})
	return true
}
