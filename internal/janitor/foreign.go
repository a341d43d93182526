package janitor

import (
	"fmt"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// heldNoRecord reports a candidate whose lock is held by a process that
// wrote no holder record: one the kernel names (h.Foreign: flock(1), the
// old harness; its pid and command), or one nothing names (h nil). It is
// live and never a leak, whatever --check says of dead ccci holders; held
// past --stale by the lockfile's age (its mtime: the lock is held at most
// that long), it is warned about, never stolen.
func (p *pass) heldNoRecord(c *candidate, h *lock.Holder) {
	who := "a holder that wrote no record"
	if h != nil {
		who = lock.Describe(h)
	}
	p.add(Item{Action: Live, Kind: "app", Name: c.domain, Domain: c.domain, Detail: who})
	if p.cfg.Stale <= 0 {
		return
	}
	since := time.Time{}
	if h != nil {
		since = h.Since
	}
	if since.IsZero() {
		since = lock.Touched(p.cfg.Locks, c.domain)
	}
	if since.IsZero() {
		return
	}
	if age := p.cfg.Now().Sub(since); age > p.cfg.Stale {
		p.add(Item{Action: Warned, Kind: "lock", Name: c.domain, Domain: c.domain,
			Detail: fmt.Sprintf("lockfile %s old, past --stale %s, held by %s; not stolen", lock.Round(age), p.cfg.Stale, who)})
	}
}
