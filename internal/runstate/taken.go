package runstate

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	kflock "git.coopcloud.tech/toolshed/ccci/internal/flock"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
)

// ErrTaken: the run id's directory is held live by another run.
var ErrTaken = errors.New("run id in use by another live run")

// CheckNotTaken refuses (ErrTaken) a run whose live-lock is held by a
// process that is neither this one nor one of its ancestors: another
// build with the same run id, whose state init would otherwise share
// and whose EXIT trap would remove. The holder must be seen twice, 100ms
// apart: a janitor's probe holds a live-lock for microseconds. A run no
// one holds, or one held by the process tree init runs in (the step's
// own ccci-runstate hold, a ccci-deploy whose test command inits), is
// not taken. Without /proc/locks it cannot tell, and says nil.
func (r *Run) CheckNotTaken() error {
	p := filepath.Join(r.Dir, liveName)
	first := strangers(p)
	if len(first) == 0 {
		return nil
	}
	time.Sleep(100 * time.Millisecond)
	for _, pid := range strangers(p) {
		for _, q := range first {
			if pid == q {
				return fmt.Errorf("%w: pid %d (%s) holds %s; run ids must be unique over every build sharing %s (Drone build numbers are per repository)",
					ErrTaken, pid, comm(pid), p, r.RunsDir)
			}
		}
	}
	return nil
}

// strangers are the pids holding path's flock that are not this process
// or an ancestor of it.
func strangers(path string) []int {
	hs, err := kflock.Holders(path)
	if err != nil {
		return nil
	}
	mine := proc.Ancestors(proc.Self())
	var out []int
	for _, h := range hs {
		if h.PID > 0 && !mine[h.PID] {
			out = append(out, h.PID)
		}
	}
	return out
}

// comm is pid's command name, "?" once it is gone.
func comm(pid int) string {
	if st, err := proc.ReadStat(pid); err == nil {
		return st.Comm
	}
	return "?"
}

// ownHolders reports whether path's flock is held, by the kernel's word,
// only by this process and its ancestors (a run's EXIT trap under the
// step's ccci-runstate hold), seen twice 10ms apart so that a prober's
// momentary exclusive lock is not missed. No holder listed, or no
// /proc/locks, is false: it cannot be told.
func ownHolders(path string) bool {
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		hs, err := kflock.Holders(path)
		if err != nil || len(hs) == 0 {
			return false
		}
		if len(strangers(path)) > 0 {
			return false
		}
	}
	return true
}
