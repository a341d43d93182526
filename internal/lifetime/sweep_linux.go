package lifetime

import (
	"bytes"
	"os"
	"strconv"
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
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if ppid, ok := parsePPID(b); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	for queue := children[root]; len(queue) > 0; {
		pid := queue[0]
		queue = append(queue[1:], children[pid]...)
		out = append(out, pid)
	}
	return out
}

// parsePPID reads the parent pid from a /proc/PID/stat line. The command
// name, in parentheses, may hold spaces and parentheses itself, so fields
// are counted from the last ')'.
func parsePPID(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}
