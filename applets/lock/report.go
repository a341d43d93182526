package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// probe prints "DOMAIN: free" or "DOMAIN: held by run ..., pid ..." and
// exits 0 if free, 1 if held.
func probe(ctx context.Context, env *applet.Env, b lock.Backend, domain string) int {
	held, h, err := b.Probe(ctx, domain)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	if !held {
		fmt.Fprintf(env.Stdout, "%s: free\n", domain)
		return applet.ExitOK
	}
	fmt.Fprintf(env.Stdout, "%s: held by %s\n", domain, lock.Describe(h))
	return applet.ExitConflict
}

// status lists every lock the backend knows of.
func status(ctx context.Context, env *applet.Env, asJSON bool) int {
	b, err := lock.Open(env)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return applet.ExitUsage
	}
	defer b.Close()
	// A bad entry (a symlink, a directory) does not hide the others: they
	// are listed, then the bad ones reported, and the status is 1.
	es, serr := b.Status(ctx)
	st := applet.ExitOK
	if serr != nil {
		defer env.Errorf(prog, "status: %v", serr)
		st = 1
	}
	if asJSON {
		if es == nil {
			es = []lock.Entry{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(es)
		return st
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tSTATE\tRUN\tPID\tHOST\tSINCE")
	for _, e := range es {
		state, run, pid, host, since := "free", "-", "-", "-", "-"
		if e.Held {
			state = "held"
		}
		if h := e.Holder; h != nil {
			run, pid, host = lock.Safe(h.Run), fmt.Sprint(h.PID), lock.Safe(h.Host)
			since = h.Since.Format(time.RFC3339)
			if h.Foreign {
				run = "not-ccci"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", lock.Safe(e.Domain), state, run, pid, host, since)
	}
	tw.Flush()
	return st
}
