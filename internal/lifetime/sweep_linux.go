package lifetime

import (
	"os"
	"strconv"

	"git.coopcloud.tech/toolshed/ccci/internal/proc"
)

// descendants lists every process below root, from /proc: the fallback
// mode's stand-in for a PID namespace. Racy by nature (a process may fork
// while we read), which is why the init sweeps again after each reap.
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := proc.ReadStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		children[st.PPID] = append(children[st.PPID], pid)
	}
	var out []int
	for queue := children[root]; len(queue) > 0; {
		pid := queue[0]
		queue = append(queue[1:], children[pid]...)
		out = append(out, pid)
	}
	return out
}
