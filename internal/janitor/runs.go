package janitor

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

// runDirs lists the run directories with their liveness.
func (p *pass) runDirs() map[string]runstate.Info {
	out := map[string]runstate.Info{}
	if p.cfg.RunsDir == "" {
		return out
	}
	infos, err := runstate.List(p.cfg.RunsDir, p.cfg.MinAge)
	if err != nil {
		p.skippedRuns(err)
	}
	for _, i := range infos {
		if p.cfg.Run == "" || i.ID == p.cfg.Run {
			out[i.ID] = i
		}
	}
	return out
}

// skippedRuns reports the run dirs List could not look at, one item each,
// and counts their runs as live: what cannot be probed is never reaped, nor
// are its processes.
func (p *pass) skippedRuns(err error) {
	bad := runstate.EntryErrors(err)
	if bad == nil {
		p.add(Item{Action: Skipped, Kind: "rundir", Name: p.cfg.RunsDir, Detail: err.Error()})
		return
	}
	for _, e := range bad {
		if p.cfg.Run != "" && e.ID != p.cfg.Run {
			continue
		}
		p.liveRuns[e.ID] = true
		p.add(Item{Action: Skipped, Kind: "rundir", Name: e.Dir, Run: e.ID, Detail: e.Err.Error()})
	}
}

// processes finds the processes of dead runs — by CCCI_RUN_ID in their
// environment, counting only those working under our runs dir — and ends
// them (SIGTERM, Grace, SIGKILL), or lists them as leaks.
//
// A run is live if its directory is live, if it holds an app lock we saw
// held, or if any of its processes holds a flock (/proc/locks: ccci-lock,
// the live-lock): that spares a run with no directory that is working
// under a lock the janitor never probes (a warm-* app's). A process of a
// run with no directory is also spared while younger than MinAge.
func (p *pass) processes(runs map[string]runstate.Info) {
	procs, err := scanProcs(p.cfg.Self, filepath.Clean(p.cfg.RunsDir))
	if err != nil {
		p.add(Item{Action: Skipped, Kind: "process", Name: "/proc", Detail: err.Error()})
		return
	}
	if p.cfg.Run != "" {
		procs = slices.DeleteFunc(procs, func(pr process) bool { return pr.run != p.cfg.Run })
	}
	lockers := flockPids()
	for _, pr := range procs {
		if lockers[pr.pid] {
			p.liveRuns[pr.run] = true
		}
	}
	now := p.cfg.Now()
	var dead []process
	for _, pr := range procs {
		info, hasDir := runs[pr.run]
		switch {
		case p.liveRuns[pr.run], hasDir && info.Live:
			p.add(Item{Action: Live, Kind: "process", Name: pr.String(), Run: pr.run})
		case !hasDir && now.Sub(pr.start) < p.cfg.MinAge:
			p.add(Item{Action: Live, Kind: "process", Name: pr.String(), Run: pr.run, Detail: "young, no run dir"})
		case p.cfg.Look:
			p.add(Item{Action: Leak, Kind: "process", Name: pr.String(), Run: pr.run})
		default:
			dead = append(dead, pr)
		}
	}
	if len(dead) == 0 {
		return
	}
	for _, r := range terminate(dead, p.cfg.Grace) {
		it := Item{Action: Reaped, Kind: "process", Name: r.proc.String(), Run: r.proc.run, Detail: r.how}
		if r.err != nil {
			it.Action, it.Detail = Failed, r.err.Error()
		}
		p.add(it)
	}
}

// removeRuns removes dead runs' directories, under the run's live-lock
// (runstate.Remove), never one whose run we saw alive.
func (p *pass) removeRuns(runs map[string]runstate.Info) {
	for _, id := range sortedIDs(runs) {
		info := runs[id]
		if info.Live || p.liveRuns[id] || p.foreignRun(id, info) {
			continue
		}
		if p.cfg.Look {
			p.add(Item{Action: Leak, Kind: "rundir", Name: info.Dir, Run: id, Detail: "dead for " + info.Age.Round(time.Second).String()})
			continue
		}
		r, err := runstate.Open(p.cfg.RunsDir, id)
		if err == nil {
			err = r.Remove(false, p.cfg.MinAge)
		}
		switch {
		case errors.Is(err, runstate.ErrLive):
			p.add(Item{Action: Live, Kind: "rundir", Name: info.Dir, Run: id, Detail: "became live"})
		case err != nil:
			p.add(Item{Action: Failed, Kind: "rundir", Name: info.Dir, Run: id, Detail: err.Error()})
		default:
			p.add(Item{Action: Reaped, Kind: "rundir", Name: info.Dir, Run: id, Detail: fmt.Sprintf("dead for %s", info.Age.Round(time.Second))})
		}
	}
}
