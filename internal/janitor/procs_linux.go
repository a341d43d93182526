package janitor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/flock"
	"git.coopcloud.tech/toolshed/ccci/internal/proc"
	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

// process is a process carrying a CCCI_RUN_ID.
type process struct {
	pid   int
	run   string
	comm  string
	start time.Time
}

func (p process) String() string { return fmt.Sprintf("%d (%s)", p.pid, p.comm) }

// scanProcs reads every /proc/<pid>/environ once and returns the processes
// with a CCCI_RUN_ID whose CCCI_RUNS_DIR (or its default) is runsDir —
// never self or its ancestors.
func scanProcs(self int, runsDir string) ([]process, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	spare := proc.Ancestors(self)
	boot := bootTime()
	var out []process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || spare[pid] {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || len(env) == 0 {
			continue // gone, a kernel thread, a zombie, or not ours to read
		}
		run, dir := "", runstate.DefaultRunsDir
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("CCCI_RUN_ID=")); ok {
				run = string(v)
			} else if v, ok := bytes.CutPrefix(kv, []byte("CCCI_RUNS_DIR=")); ok && len(v) > 0 {
				dir = string(v)
			}
		}
		if run == "" || filepath.Clean(dir) != runsDir {
			continue
		}
		st, err := proc.ReadStat(pid)
		if err != nil {
			continue
		}
		out = append(out, process{pid: pid, run: run, comm: st.Comm, start: boot.Add(time.Duration(st.Start) * time.Second / 100)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out, nil
}

func bootTime() time.Time {
	b, _ := os.ReadFile("/proc/stat")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}

// flockPids returns the pids holding a FLOCK, from /proc/locks.
func flockPids() map[int]bool {
	pids, _ := flock.FlockPIDs()
	return pids
}

type ended struct {
	proc process
	how  string
	err  error
}

// terminate ends procs: SIGTERM to all, then waits up to grace for each to
// go and SIGKILLs the rest. Each is addressed by a pidfd opened first, so a
// pid reused meanwhile is never signalled.
func terminate(procs []process, grace time.Duration) []ended {
	out := make([]ended, len(procs))
	fds := make([]int, len(procs))
	for i, pr := range procs {
		out[i].proc = pr
		fd, err := unix.PidfdOpen(pr.pid, 0)
		fds[i] = fd
		if err != nil {
			if err == unix.ESRCH {
				out[i].how = "already gone"
			} else {
				out[i].err = fmt.Errorf("pidfd_open %d: %v", pr.pid, err)
			}
			continue
		}
		if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil && err != unix.ESRCH {
			out[i].err = fmt.Errorf("kill -TERM %d: %v", pr.pid, err)
		}
		out[i].how = "SIGTERM"
	}
	deadline := time.Now().Add(grace)
	for i := range procs {
		if fds[i] < 0 {
			continue
		}
		// A pidfd polls readable when its process exits: no sleep loop.
		pfd := []unix.PollFd{{Fd: int32(fds[i]), Events: unix.POLLIN}}
		for {
			ms := int(time.Until(deadline).Milliseconds())
			n, err := unix.Poll(pfd, max(ms, 0))
			if err == unix.EINTR {
				continue
			}
			if n == 0 && err == nil {
				if err := unix.PidfdSendSignal(fds[i], unix.SIGKILL, nil, 0); err != nil && err != unix.ESRCH {
					out[i].err = fmt.Errorf("kill -KILL %d: %v", procs[i].pid, err)
				} else {
					out[i].how = "SIGKILL after " + grace.String()
				}
			}
			break
		}
		unix.Close(fds[i])
	}
	return out
}

func sortedIDs(m map[string]runstate.Info) []string {
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
