package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// call runs CMD n times and prints the median wall ms, the mean wall ms
// and the median peak RSS in KiB. Several commands (split at "---") are run
// alternately, call by call, so all see the same load on a shared machine;
// one line each, in order.
//
// The RSS is time(1)'s %M (wait4's ru_maxrss: the largest of the command
// and the descendants it reaped, so ccci-lock's init and command count
// too), over min(n, 15) more calls. Not wait4's of our own children: Go
// starts them with CLONE_VM|CLONE_VFORK, so until its exec a child runs
// in this process's memory and its ru_maxrss is never below ours (7 MiB
// for flock(1), whose own peak is 1.6). Without /usr/bin/time it falls
// back to that, floored by ours.
func call(n int, argv []string) {
	cmds := splitCmds(argv)
	wall := make([][]float64, len(cmds))
	rss := make([][]float64, len(cmds))
	total := make([]float64, len(cmds))
	for i := 0; i < n; i++ {
		for j, a := range cmds {
			c := exec.Command(a[0], a[1:]...)
			t := time.Now()
			check(c.Run())
			d := ms(time.Since(t))
			total[j] += d
			wall[j] = append(wall[j], d)
			rss[j] = append(rss[j], float64(c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss))
		}
	}
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		for j, a := range cmds {
			rss[j] = timeRSS(min(n, 15), a)
		}
	}
	for j := range cmds {
		fmt.Printf("%.3f %.3f %.0f\n", median(wall[j]), total[j]/float64(n), median(rss[j]))
	}
}

// timeRSS runs argv n times under time(1) and returns each peak RSS, KiB.
func timeRSS(n int, argv []string) []float64 {
	f, err := os.CreateTemp("", "rss")
	check(err)
	f.Close()
	defer os.Remove(f.Name())
	var kb []float64
	for i := 0; i < n; i++ {
		check(exec.Command("/usr/bin/time", append([]string{"-o", f.Name(), "-f", "%M"}, argv...)...).Run())
		b, err := os.ReadFile(f.Name())
		check(err)
		v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		check(err)
		kb = append(kb, v)
	}
	return kb
}

// splitCmds splits argv into commands at each "---".
func splitCmds(argv []string) [][]string {
	var cmds [][]string
	start := 0
	for i, s := range argv {
		if s == "---" {
			cmds, start = append(cmds, argv[start:i]), i+1
		}
	}
	cmds = append(cmds, argv[start:])
	for _, c := range cmds {
		if len(c) == 0 {
			fail("empty command (CMD... [--- CMD...])")
		}
	}
	return cmds
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func pct(v []float64, p int) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// pollLock is the polling lock the handoff compares against: try a
// non-blocking flock every 100 ms (touching TRIED after the first miss),
// then run CMD.
func pollLock(file, tried string, argv []string) {
	fd, err := syscall.Open(file, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o644)
	check(err)
	for first := true; ; first = false {
		if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			break
		}
		if first {
			check(os.WriteFile(tried, nil, 0o644))
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	check(c.Run())
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	check(err)
	return n
}

// versus runs CMD_A, CMD_B, ... (argv split at "---") n times each,
// alternating call by call so all see the same load on a shared machine,
// and prints the median wall ms of each.
func versus(n int, argv []string) {
	cmds := splitCmds(argv)
	if len(cmds) < 2 {
		fail("usage: benchtool versus N CMD_A... --- CMD_B... [--- CMD_C...]")
	}
	w := make([][]float64, len(cmds))
	for i := 0; i < n; i++ {
		for j, c := range cmds {
			w[j] = append(w[j], timeRun(c))
		}
	}
	var out []string
	for _, v := range w {
		out = append(out, fmt.Sprintf("%.3f", median(v)))
	}
	fmt.Println(strings.Join(out, " "))
}
