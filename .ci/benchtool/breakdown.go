package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// breakdown splits the wall time of one `ccci-lock D -- true` call into
// parts, each the difference of two whole-process timings taken
// interleaved, call by call, in the same run (medians of n):
//
//	go_start       a bare static Go hello-world (HELLO)
//	std_init       HELLO_STD − HELLO: the same hello-world importing every
//	               standard package ccci links: their init and size
//	deps_init      HELLO_DEPS − HELLO_STD: importing every package ccci
//	               links but its own (yaml, mvdan.cc/sh, ...)
//	libs_code      HELLO_USES − HELLO_DEPS: a hello-world that also calls,
//	               behind a branch never taken, what ccci's applets call
//	               in those packages (the shell parser and interpreter,
//	               yaml, json, net, exec): the size of that code, not run
//	ccci_own       `ccci --version` − HELLO_USES: ccci's own packages
//	               (init, size) and what --version does
//	signals        HELLO_SIGNALS − HELLO_USES: HELLO_USES registering the
//	               signals every ccci-lock run catches (os/signal's
//	               round trip to the runtime's signal thread, each)
//	exec           `spawn plain true` − `spawn none`: fork, exec and wait
//	               of the command, from Go
//	pid_namespace  `spawn newpid true` − `spawn plain true`: the same child
//	               made with CLONE_NEWPID, and the namespace's teardown
//	init_process   `spawn tiny` − `spawn newpid`: the tiny init from a
//	               sealed memfd as PID 1, forking and execing the command,
//	               as internal/lifetime runs it
//	lock_applet    `ccci-lock D -- true` − `ccci --version` − (`spawn
//	               tiny` − `spawn none`) − signals: lockfile, flock, holder
//	               record, the lifetime's goroutines and threads
//
// and, for reference, flock (`flock LOCKFILE true`), version (`ccci
// --version`) and total (`ccci-lock D -- true`). TINYGO is
// internal/lifetime/tinyinit_amd64.go, which holds the tiny init's bytes.
// One line per part: name, median ms.
//
//	benchtool breakdown N LOCKFILE TINYGO HELLO HELLO_STD HELLO_DEPS HELLO_USES HELLO_SIGNALS CCCI CCCI-LOCK
func breakdown(args []string) {
	if len(args) != 10 {
		fail("usage: benchtool breakdown N LOCKFILE TINYGO HELLO HELLO_STD HELLO_DEPS HELLO_USES HELLO_SIGNALS CCCI CCCI-LOCK")
	}
	n, lockfile, tinyGo := atoi(args[0]), args[1], args[2]
	hello, helloStd, helloDeps, helloUses, helloSignals := args[3], args[4], args[5], args[6], args[7]
	ccci, ccciLock := args[8], args[9]
	self, err := os.Executable()
	check(err)
	tiny := writeTiny(tinyGo)
	defer os.Remove(tiny)
	cmds := []struct {
		name string
		argv []string
	}{
		{"flock", []string{"flock", lockfile, "true"}},
		{"hello", []string{hello}},
		{"hello_std", []string{helloStd}},
		{"hello_deps", []string{helloDeps}},
		{"hello_uses", []string{helloUses}},
		{"hello_signals", []string{helloSignals}},
		{"version", []string{ccci, "--version"}},
		{"lock", []string{ccciLock, "b.example", "--", "true"}},
		{"none", []string{self, "spawn", "none"}},
		{"plain", []string{self, "spawn", "plain", "true"}},
		{"newpid", []string{self, "spawn", "newpid", "true"}},
		{"tiny", []string{self, "spawn", "tiny", tiny, "true"}},
	}
	wall := map[string][]float64{}
	for i := 0; i < n; i++ {
		for _, c := range cmds {
			wall[c.name] = append(wall[c.name], timeRun(c.argv))
		}
	}
	m := map[string]float64{}
	for k, v := range wall {
		m[k] = median(v)
	}
	rows := []struct {
		name string
		ms   float64
	}{
		{"flock", m["flock"]},
		{"version", m["version"]},
		{"total", m["lock"]},
		{"go_start", m["hello"]},
		{"std_init", m["hello_std"] - m["hello"]},
		{"deps_init", m["hello_deps"] - m["hello_std"]},
		{"libs_code", m["hello_uses"] - m["hello_deps"]},
		{"ccci_own", m["version"] - m["hello_uses"]},
		{"exec", m["plain"] - m["none"]},
		{"pid_namespace", m["newpid"] - m["plain"]},
		{"init_process", m["tiny"] - m["newpid"]},
		{"signals", m["hello_signals"] - m["hello_uses"]},
		{"lock_applet", m["lock"] - m["version"] - (m["tiny"] - m["none"]) - (m["hello_signals"] - m["hello_uses"])},
	}
	for _, r := range rows {
		fmt.Printf("%s %.2f\n", r.name, r.ms)
	}
}

func timeRun(argv []string) float64 {
	c := exec.Command(argv[0], argv[1:]...)
	t := nowNano()
	check(c.Run())
	return float64(nowNano()-t) / 1e6
}

func nowNano() int64 {
	var ts unix.Timespec
	check(unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	return ts.Nano()
}

// writeTiny extracts the tiny init's bytes from its generated Go file into
// a temporary file and returns its path.
func writeTiny(goFile string) string {
	src, err := os.ReadFile(goFile)
	check(err)
	_, body, ok := strings.Cut(string(src), "[]byte{")
	if !ok {
		fail(goFile + ": no byte slice")
	}
	var b []byte
	for _, h := range regexp.MustCompile(`0x[0-9a-f]{2}`).FindAllString(body, -1) {
		v, err := strconv.ParseUint(h[2:], 16, 8)
		check(err)
		b = append(b, byte(v))
	}
	f, err := os.CreateTemp("", "tinyinit")
	check(err)
	_, err = f.Write(b)
	check(err)
	check(f.Close())
	return f.Name()
}

// spawn is one process of the breakdown: "none" exits at once; "plain"
// runs CMD as a child; "newpid" runs it in a new PID namespace; "tiny"
// copies the tiny init at PATH into a sealed memfd and runs it as PID 1 of
// a new PID namespace with CMD, as internal/lifetime does (the race pipe at
// fd 3, the memfd at fd 4). Children are started as internal/lifetime
// starts them, with syscall.ForkExec and wait4: os/exec would add os's
// one-time pidfd probe (a vfork'd child among others), which ccci does
// not pay.
//
//	benchtool spawn none | plain CMD... | newpid CMD... | tiny PATH CMD...
func spawn(args []string) {
	var (
		argv  []string
		files = []uintptr{0, 1, 2}
		sys   = &syscall.SysProcAttr{}
	)
	switch args[0] {
	case "none":
		return
	case "plain":
		argv = args[1:]
	case "newpid":
		argv = args[1:]
		sys.Cloneflags = syscall.CLONE_NEWPID
	case "tiny":
		b, err := os.ReadFile(args[1])
		check(err)
		fd, err := unix.MemfdCreate("ccci-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		check(err)
		_, err = unix.Write(fd, b)
		check(err)
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
		check(err)
		var p [2]int
		check(unix.Pipe2(p[:], unix.O_CLOEXEC))
		defer unix.Close(p[1])
		argv = append([]string{"/proc/self/fd/4", "__ccci_init", "ccci", "ns", "10s"}, args[2:]...)
		files = append(files, uintptr(p[0]), uintptr(fd))
		sys.Cloneflags = syscall.CLONE_NEWPID
	default:
		fail("spawn: unknown mode " + args[0])
	}
	path := argv[0]
	if !strings.HasPrefix(path, "/") {
		var err error
		path, err = exec.LookPath(path)
		check(err)
	}
	if args[0] == "tiny" {
		argv[0] = "ccci"
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: os.Environ(), Files: files, Sys: sys})
	check(err)
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	check(err)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		fail(fmt.Sprintf("spawn %s: %v", args[0], ws))
	}
}
