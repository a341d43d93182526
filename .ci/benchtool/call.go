package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// call runs CMD n times in a row and prints the median wall ms, the mean
// wall ms and the median peak RSS in KiB. The RSS is wait4's ru_maxrss: the
// largest of the process and the descendants it reaped (as time(1)'s %M),
// so ccci-lock's re-executed init counts too.
func call(n int, argv []string) {
	var wall, rss []float64
	var total time.Duration
	for i := 0; i < n; i++ {
		c := exec.Command(argv[0], argv[1:]...)
		t := time.Now()
		check(c.Run())
		d := time.Since(t)
		total += d
		wall = append(wall, ms(d))
		rss = append(rss, float64(c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss))
	}
	fmt.Printf("%.3f %.3f %.0f\n", median(wall), ms(total)/float64(n), median(rss))
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

// versus runs CMD_A and CMD_B (argv split at "---") n times each,
// alternating call by call so both see the same load on a shared
// machine, and prints the median wall ms of each.
func versus(n int, argv []string) {
	var a, b []string
	for i, s := range argv {
		if s == "---" {
			a, b = argv[:i], argv[i+1:]
		}
	}
	if len(a) == 0 || len(b) == 0 {
		fail("usage: benchtool versus N CMD_A... --- CMD_B...")
	}
	var wa, wb []float64
	for i := 0; i < n; i++ {
		for _, x := range []struct {
			argv []string
			w    *[]float64
		}{{a, &wa}, {b, &wb}} {
			c := exec.Command(x.argv[0], x.argv[1:]...)
			t := time.Now()
			check(c.Run())
			*x.w = append(*x.w, ms(time.Since(t)))
		}
	}
	fmt.Printf("%.3f %.3f\n", median(wa), median(wb))
}
