package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// teardown measures, n times, SIGTERM to the lock tool → the lock is free:
// the holder runs `benchtool sleepstamp READY` (stamps, then sleeps until
// TERM kills it); a flock(1) waiter blocked on the same file stamps as soon
// as it gets the lock. For ccci-lock that is its whole funnel (TERM to the
// namespace, the command exits, the init is reaped, the lock released);
// flock(1) dies at once but its command, left running, inherited the lock:
// the lock stays held until that orphan ends. If the waiter has not got the
// lock after 2 s, this prints "never" (and kills the orphan by its pid).
func teardown(n int, tool, dir string) {
	self, err := os.Executable()
	check(err)
	file := filepath.Join(dir, "cc-ci-app-term.example.lock")
	ready, got := filepath.Join(dir, "ready"), filepath.Join(dir, "got")
	var lat []float64
	for i := 0; i < n; i++ {
		os.Remove(ready)
		os.Remove(got)
		var h *exec.Cmd
		if tool == "flock" {
			h = start([]string{"flock", file, self, "sleepstamp", ready})
		} else {
			h = start([]string{"ccci-lock", "--grace", "5s", "term.example", "--", self, "sleepstamp", ready})
		}
		waitFile(ready)
		w := start([]string{"flock", file, self, "stamp", got})
		waitBlocked(w.Process.Pid)
		t0 := time.Now().UnixNano()
		check(h.Process.Signal(syscall.SIGTERM))
		done := make(chan error, 1)
		go func() { done <- w.Wait() }()
		select {
		case err := <-done:
			check(err)
			lat = append(lat, float64(readStamp(got)-t0)/1e6)
			done <- nil
		case <-time.After(2 * time.Second):
		}
		h.Wait()
		if b, err := os.ReadFile(ready + ".pid"); err == nil {
			syscall.Kill(atoi(string(b)), syscall.SIGKILL) // an orphan, if any
		}
		w.Process.Kill()
		<-done
	}
	if len(lat) < n {
		fmt.Printf("never never (%d/%d)\n", n-len(lat), n)
		return
	}
	fmt.Printf("%.3f %.3f\n", median(lat), pct(lat, 99))
}

func waitFile(path string) {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	fail("never appeared: " + path)
}

func sleepstamp(path string) {
	check(os.WriteFile(path+".pid", []byte(strconv.Itoa(os.Getpid())), 0o644))
	stamp(path)
	time.Sleep(time.Hour)
}
