// Command benchtool times lock tools for .ci/bench and .ci/bench-lock:
// per-call wall time and peak memory of uncontended runs, handoff latency
// (holder's command ends → the waiter's command starts), teardown latency
// (SIGTERM → lock free) and the package-init cost of a Go binary.
//
//	benchtool mean N CMD [ARG...]            mean wall ms of N sequential runs
//	benchtool call N CMD... [--- CMD...]     median ms, mean ms, median max RSS KiB;
//	                                         several interleaved, a line each
//	benchtool versus N CMD... --- CMD...     median ms of each, interleaved, one line
//	benchtool handoff N ccci|flock|poll DIR  p50/p99 handoff ms over N handoffs
//	benchtool teardown N ccci|flock DIR      p50/p99 ms, SIGTERM → lock free
//	benchtool inittrace N [-top K] CMD...    GODEBUG=inittrace=1: median init ms
//	                                         per process, and the top K packages
//	benchtool breakdown N LOCKFILE TINYGO HELLO HELLO_STD HELLO_DEPS HELLO_USES HELLO_SIGNALS CCCI CCCI-LOCK
//	                                         a ccci-lock call's wall time in parts
//	benchtool spawn MODE ...                 (internal) one process of breakdown
//	benchtool hold FIFO STAMP                (internal) block on FIFO, stamp, exit
//	benchtool stamp STAMP                    (internal) stamp, exit
//	benchtool sleepstamp STAMP               (internal) stamp, sleep until killed
//	benchtool poll-lock FILE TRIED CMD...    (internal) a 100 ms polling lock
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: benchtool mean|handoff|hold|stamp ...")
	}
	switch os.Args[1] {
	case "stamp":
		stamp(os.Args[2])
	case "hold":
		f, err := os.Open(os.Args[2]) // blocks until the bench writes
		check(err)
		f.Read(make([]byte, 1))
		stamp(os.Args[3])
	case "mean":
		n, _ := strconv.Atoi(os.Args[2])
		var total time.Duration
		for i := 0; i < n; i++ {
			c := exec.Command(os.Args[3], os.Args[4:]...)
			c.Stderr = nil
			t := time.Now()
			check(c.Run())
			total += time.Since(t)
		}
		fmt.Printf("%.3f\n", ms(total)/float64(n))
	case "call":
		call(atoi(os.Args[2]), os.Args[3:])
	case "versus":
		versus(atoi(os.Args[2]), os.Args[3:])
	case "teardown":
		teardown(atoi(os.Args[2]), os.Args[3], os.Args[4])
	case "inittrace":
		inittrace(os.Args[2:])
	case "breakdown":
		breakdown(os.Args[2:])
	case "spawn":
		spawn(os.Args[2:])
	case "sleepstamp":
		sleepstamp(os.Args[2])
	case "poll-lock":
		pollLock(os.Args[2], os.Args[3], os.Args[4:])
	case "handoff":
		n, _ := strconv.Atoi(os.Args[2])
		handoff(n, os.Args[3], os.Args[4])
	default:
		fail("unknown subcommand " + os.Args[1])
	}
}

func handoff(n int, tool, dir string) {
	self, err := os.Executable()
	check(err)
	fifo := filepath.Join(dir, "fifo")
	os.Remove(fifo)
	check(syscall.Mkfifo(fifo, 0o600))
	s0, s1 := filepath.Join(dir, "s0"), filepath.Join(dir, "s1")
	file := filepath.Join(dir, "cc-ci-app-bench.example.lock")
	tried := filepath.Join(dir, "tried")
	argv := func(waiter bool, cmd ...string) []string {
		switch {
		case tool == "flock", tool == "poll" && !waiter:
			return append([]string{"flock", file}, cmd...)
		case tool == "poll":
			return append([]string{self, "poll-lock", file, tried}, cmd...)
		}
		return append([]string{"ccci-lock", "bench.example", "--"}, cmd...)
	}
	var lat []float64
	for i := 0; i < n; i++ {
		os.Remove(s0)
		os.Remove(s1)
		os.Remove(tried)
		h := start(argv(false, self, "hold", fifo, s0))
		waitHeld(tool, dir)
		w := start(argv(true, self, "stamp", s1))
		if tool == "poll" {
			waitFile(tried)
		} else {
			waitBlocked(w.Process.Pid)
		}
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		check(err)
		f.Write([]byte{1})
		f.Close()
		check(h.Wait())
		check(w.Wait())
		lat = append(lat, float64(readStamp(s1)-readStamp(s0))/1e6)
	}
	sort.Float64s(lat)
	fmt.Printf("%.3f %.3f\n", lat[len(lat)/2], lat[(len(lat)*99)/100])
}

func start(argv []string) *exec.Cmd {
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = append(os.Environ(), "NO_COLOR=1")
	check(c.Start())
	return c
}

// waitHeld waits until the holder holds the lock (a non-blocking flock(1)
// on the same file fails).
func waitHeld(tool, dir string) {
	file := filepath.Join(dir, "cc-ci-app-bench.example.lock")
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if _, err := os.Stat(file); err == nil && exec.Command("flock", "-n", file, "true").Run() != nil {
			return
		}
	}
	fail("holder never took the lock")
}

// waitBlocked waits until a thread of pid sleeps in the kernel's flock wait.
func waitBlocked(pid int) {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Microsecond) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
		for _, t := range tasks {
			if b, _ := os.ReadFile(t); strings.Contains(string(b), "lock") {
				return
			}
		}
	}
	fail("waiter never blocked")
}

func stamp(path string) {
	check(os.WriteFile(path, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644))
}

func readStamp(path string) int64 {
	b, err := os.ReadFile(path)
	check(err)
	v, err := strconv.ParseInt(string(b), 10, 64)
	check(err)
	return v
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchtool:", msg)
	os.Exit(1)
}
