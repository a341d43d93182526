// Package proc reads what /proc says about processes: a process's stat
// line, whether a pid exists, a process's ancestors, and this process's
// own pid as /proc numbers it.
//
// Every pid ccci compares or stores goes through here, so all of them are
// in one numbering: /proc's (the host's, where the runner runs). A ccci
// applet may run inside a PID namespace (a command under ccci-lock or
// ccci-runstate hold), where os.Getpid and kill(2) use the namespace's
// numbers and see nothing outside it: a janitor run there took every
// holder outside for gone and itself for a stranger.
//
// Linux only, as ccci is: /proc is Linux's, so this package is built for
// linux alone, and building ccci for another system stops here, clearly.
package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat ccci reads.
type Stat struct {
	Comm  string
	PPID  int
	Start uint64 // clock ticks after boot (USER_HZ, 100 on Linux)
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	st, ok := ParseStat(b)
	if !ok {
		return Stat{}, fmt.Errorf("/proc/%d/stat: garbled", pid)
	}
	return st, nil
}

// ParseStat parses a stat line; comm may hold spaces and parentheses, so
// fields are counted from the last ')'.
func ParseStat(b []byte) (Stat, bool) {
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return Stat{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return Stat{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, false
	}
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return Stat{Comm: s[open+1 : end], PPID: ppid, Start: start}, true
}

// Self is this process's pid as /proc numbers it, which is not os.Getpid
// inside a PID namespace; os.Getpid where /proc cannot say.
func Self() int {
	if s, err := os.Readlink("/proc/self"); err == nil {
		if pid, err := strconv.Atoi(s); err == nil {
			return pid
		}
	}
	return os.Getpid()
}

// Exists reports whether pid exists as /proc numbers it (a zombie does),
// where kill(pid, 0) would answer for the caller's PID namespace only.
// Unsure (no /proc) is true: a holder is never taken for gone on doubt.
func Exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return !errors.Is(err, fs.ErrNotExist)
}

// Ancestors is pid and its parents up to init, by /proc.
func Ancestors(pid int) map[int]bool {
	m := map[int]bool{}
	for pid > 1 && !m[pid] {
		m[pid] = true
		st, err := ReadStat(pid)
		if err != nil {
			break
		}
		pid = st.PPID
	}
	return m
}
