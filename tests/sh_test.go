package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestSh runs testdata/sh: ccci-sh's traps, jobs, setsid and applets, and
// the scripts in scripts/ under bash and ccci-sh alike. $SCRIPTS is the
// repository's scripts/ directory.
func TestSh(t *testing.T) {
	p := params("sh")
	setup := p.Setup
	scripts, err := filepath.Abs("../scripts")
	if err != nil {
		t.Fatal(err)
	}
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		e.Setenv("SCRIPTS", scripts)
		shSpawnEnv.Store(e.WorkDir, append([]string(nil), e.Vars...))
		return nil
	}
	p.Condition = shCondition
	testscript.Run(t, p)
}

// shCondition knows [sigdfl:SIG]: this test process did not start with SIG
// (INT or HUP) ignored, so a bash it starts can trap SIG. POSIX shells
// cannot trap a signal ignored at entry, and go test started in the
// background of a non-interactive shell ignores INT (under nohup, HUP);
// ccci-sh traps them either way.
func shCondition(cond string) (bool, error) {
	name, ok := strings.CutPrefix(cond, "sigdfl:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	sig, ok := map[string]uint{"HUP": uint(syscall.SIGHUP), "INT": uint(syscall.SIGINT)}[name]
	if !ok {
		return false, fmt.Errorf("sigdfl: unknown signal %q", name)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return false, fmt.Errorf("/proc/self/status: %v", err)
			}
			return mask&(1<<(sig-1)) == 0, nil
		}
	}
	return false, fmt.Errorf("/proc/self/status: no SigIgn line")
}

func init() {
	cmds["shspawn"] = cmdShSpawn
	cmds["shsignal"] = cmdShSignal
	cmds["shreap"] = cmdShReap
	cmds["shsamesid"] = cmdShSamesid
}

// shSpawnEnv holds each script's environment as Setup made it, keyed by $WORK.
var shSpawnEnv sync.Map

type shSpawned struct {
	cmd  *exec.Cmd
	done chan struct{}
}

var shProcs sync.Map // "$WORK\x00NAME" -> *shSpawned

// shspawn NAME CMD [ARG...] starts CMD in the background with the script's
// environment, its stdout and stderr in $WORK/NAME.stdout and NAME.stderr,
// readable (waitmatch) while it runs. Unlike exec &NAME&, shreap can then
// check its exact exit status.
func cmdShSpawn(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: shspawn NAME CMD [ARG...]")
	}
	work := ts.Getenv("WORK")
	vars, _ := shSpawnEnv.Load(work)
	var env []string
	for _, kv := range vars.([]string) {
		k, _, _ := strings.Cut(kv, "=")
		env = append(env, k+"="+ts.Getenv(k)) // the script may have changed it
	}
	path := ts.MkAbs(args[1])
	if !strings.Contains(args[1], "/") {
		if path = shLookPath(ts.Getenv("PATH"), args[1]); path == "" {
			ts.Fatalf("shspawn: %s not found in $PATH", args[1])
		}
	}
	stdout, err := os.Create(filepath.Join(work, args[0]+".stdout"))
	ts.Check(err)
	stderr, err := os.Create(filepath.Join(work, args[0]+".stderr"))
	ts.Check(err)
	cmd := &exec.Cmd{Path: path, Args: args[1:], Env: env, Dir: ts.MkAbs("."), Stdout: stdout, Stderr: stderr}
	ts.Check(cmd.Start())
	stdout.Close()
	stderr.Close()
	sp := &shSpawned{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(sp.done) }()
	shProcs.Store(work+"\x00"+args[0], sp)
	ts.Defer(func() {
		select {
		case <-sp.done:
		default:
			cmd.Process.Kill()
			<-sp.done
		}
	})
}

func shLookPath(path, file string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func shLookupSpawned(ts *testscript.TestScript, name string) *shSpawned {
	sp, ok := shProcs.Load(ts.Getenv("WORK") + "\x00" + name)
	if !ok {
		ts.Fatalf("no spawned process %q", name)
	}
	return sp.(*shSpawned)
}

// shsignal NAME SIG sends SIG (TERM, INT, HUP, ...) to the spawned NAME.
func cmdShSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: shsignal NAME SIG")
	}
	sig, ok := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT,
		"HUP": syscall.SIGHUP, "KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1}[args[1]]
	if !ok {
		ts.Fatalf("shsignal: unknown signal %q", args[1])
	}
	ts.Check(shLookupSpawned(ts, args[0]).cmd.Process.Signal(sig))
}

// shreap NAME STATUS waits (bounded) for the spawned NAME to end and checks
// its exit status; a death by signal N reads 128+N, as a shell reports it.
func cmdShReap(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: shreap NAME STATUS")
	}
	sp := shLookupSpawned(ts, args[0])
	select {
	case <-sp.done:
	case <-time.After(deadline):
		ts.Fatalf("timed out after %v waiting for %s to end", deadline, args[0])
	}
	status := sp.cmd.ProcessState.ExitCode()
	if ws, ok := sp.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	if got := strconv.Itoa(status); got != args[1] {
		ts.Fatalf("%s exited %s, want %s", args[0], got, args[1])
	}
}

// shsamesid PIDFILE PIDFILE checks that both processes are in one session
// (negated: in different ones), from /proc/PID/stat; a file holding "PID
// SID" gives the session the process recorded itself before it ended.
func cmdShSamesid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: shsamesid PIDFILE PIDFILE")
	}
	a, b := shSessionOf(ts, args[0]), shSessionOf(ts, args[1])
	if (a == b) == neg {
		ts.Fatalf("sessions %d and %d: want them %s", a, b, map[bool]string{false: "equal", true: "different"}[neg])
	}
}

func shSessionOf(ts *testscript.TestScript, pidfile string) int {
	b, err := os.ReadFile(ts.MkAbs(pidfile))
	ts.Check(err)
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f) > 2 {
		ts.Fatalf("%s: want PID or PID SID, have %q", pidfile, b)
	}
	for _, n := range f {
		if _, err := strconv.Atoi(n); err != nil {
			ts.Fatalf("%s: want PID or PID SID, have %q", pidfile, b)
		}
	}
	if len(f) == 2 {
		sid, _ := strconv.Atoi(f[1])
		return sid
	}
	pid := f[0]
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%s/stat", pid))
	ts.Check(err)
	// pid (comm) state ppid pgrp session ...; comm may hold spaces.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	sid, err := strconv.Atoi(fields[3])
	ts.Check(err)
	return sid
}
