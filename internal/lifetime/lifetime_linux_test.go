package lifetime

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary both the init that Run re-executes
// (/proc/self/exe __ccci_init ...) and lifetime-run, a minimal applet that
// runs a command under a Lifetime, for the scripts in testdata/script.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitArg {
		var signalsSet func()
		if gate := os.Getenv("LIFETIME_INIT_GATE"); gate != "" {
			signalsSet = func() { initGate(gate) }
		}
		os.Exit(initMain(os.Args[2:], signalsSet))
	}
	testscript.Main(m, map[string]func(){"lifetime-run": lifetimeRun})
}

// lifetimeRun is "lifetime-run [--deadline D] [--grace D] [--] COMMAND...".
func lifetimeRun() {
	fs := flag.NewFlagSet("lifetime-run", flag.ExitOnError)
	deadline := fs.Duration("deadline", 0, "")
	grace := fs.Duration("grace", 0, "")
	fs.Parse(os.Args[1:])
	l := Begin(context.Background(), Options{Prog: "lock", Stderr: os.Stderr, Deadline: *deadline, Grace: *grace})
	st, err := l.Run(Cmd{Argv: fs.Args(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	l.End()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifetime-run:", err)
	}
	os.Exit(st)
}

func TestScript(t *testing.T) { testscript.Run(t, scriptParams(nil)) }

// scriptParams: testdata/script, with setup.
func scriptParams(setup func(*testscript.Env) error) testscript.Params {
	return testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setup,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"waitfile":  cmdWaitfile,
			"waitmatch": cmdWaitmatch,
			"pidgone":   cmdPidgone,
			"sig":       cmdSig,
		},
	}
}

// deadline bounds every wait in a script: conditions, never bare sleeps.
const deadline = 30 * time.Second

func waitFor(ts *testscript.TestScript, what string, cond func() bool) {
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			ts.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitfile FILE... waits until every FILE exists and is not empty.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	waitFor(ts, fmt.Sprintf("%v", args), func() bool {
		for _, f := range args {
			if fi, err := os.Stat(ts.MkAbs(f)); err != nil || fi.Size() == 0 {
				return false
			}
		}
		return true
	})
}

// waitmatch FILE SUBSTRING waits until FILE contains SUBSTRING.
func cmdWaitmatch(ts *testscript.TestScript, neg bool, args []string) {
	waitFor(ts, fmt.Sprintf("%s to contain %q", args[0], args[1]), func() bool {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		return bytes.Contains(b, []byte(args[1]))
	})
}

// pidgone PIDFILE waits until that process has exited: no such process, or
// a zombie (an orphan's reaper is the machine's init, not ours to wait on).
func cmdPidgone(ts *testscript.TestScript, neg bool, args []string) {
	pid := readPid(ts, args[0])
	waitFor(ts, fmt.Sprintf("pid %d to exit", pid), func() bool { return exited(pid) })
}

// sig NAME PIDFILE sends signal NAME (TERM, KILL, ...) to that process.
func cmdSig(ts *testscript.TestScript, neg bool, args []string) {
	s, ok := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL,
		"INT": syscall.SIGINT, "HUP": syscall.SIGHUP}[args[0]]
	if !ok {
		ts.Fatalf("sig: unknown signal %s", args[0])
	}
	ts.Check(syscall.Kill(readPid(ts, args[1]), s))
}

func readPid(ts *testscript.TestScript, file string) int {
	b, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	return pid
}

func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && len(b) > i+2 && b[i+2] == 'Z'
}

// syncBuffer is a bytes.Buffer safe for the funnel's goroutine to write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		want int
	}{
		{"ok", []string{"true"}, 0},
		{"exit code passes through", []string{"sh", "-c", "exit 7"}, 7},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, 137},
		{"not found", []string{"ccci-no-such-command"}, 127},
		{"not executable", []string{"/dev/null"}, 126},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr syncBuffer
			l := Begin(context.Background(), Options{Prog: "lock", Stderr: &stderr})
			defer l.End()
			got, err := l.Run(Cmd{Argv: tc.argv, Dir: t.TempDir(), Stderr: &stderr})
			if err != nil || got != tc.want {
				t.Fatalf("Run(%q) = %d, %v; want %d (stderr %q)", tc.argv, got, err, tc.want, stderr.String())
			}
			if l.Status() != 0 {
				t.Fatalf("Status() = %d after a normal exit", l.Status())
			}
		})
	}
}

// TestRunStreams: streams that are not files are copied, and the copies are
// complete when Run returns.
func TestRunStreams(t *testing.T) {
	var out, errb bytes.Buffer
	l := Begin(context.Background(), Options{Prog: "lock"})
	defer l.End()
	dir := t.TempDir()
	st, err := l.Run(Cmd{
		Argv:  []string{"sh", "-c", `cat; echo "$X $(pwd)"; echo oops >&2`},
		Env:   []string{"X=from-env", "PATH=" + os.Getenv("PATH")},
		Dir:   dir,
		Stdin: strings.NewReader("in\n"), Stdout: &out, Stderr: &errb,
	})
	if st != 0 || err != nil {
		t.Fatalf("Run = %d, %v", st, err)
	}
	if want := "in\nfrom-env " + dir + "\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if errb.String() != "oops\n" {
		t.Errorf("stderr = %q", errb.String())
	}
}

// TestFunnel: each way in sets its status once, and a later signal is
// logged and ignored.
func TestFunnel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		enter  func(l *Lifetime, cancel context.CancelFunc)
		opts   Options
		status int
		log    string
	}{
		{"SIGHUP", func(*Lifetime, context.CancelFunc) { syscall.Kill(os.Getpid(), syscall.SIGHUP) }, Options{}, 129, "SIGHUP: ending the run"},
		{"SIGINT", func(*Lifetime, context.CancelFunc) { syscall.Kill(os.Getpid(), syscall.SIGINT) }, Options{}, 130, "SIGINT: ending the run"},
		{"deadline", func(*Lifetime, context.CancelFunc) {}, Options{Deadline: time.Millisecond}, 124, "deadline 1ms expired"},
		{"parent context", func(_ *Lifetime, cancel context.CancelFunc) { cancel() }, Options{}, 143, "cancelled: ending the run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr syncBuffer
			tc.opts.Prog, tc.opts.Stderr = "lock", &stderr
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := Begin(ctx, tc.opts)
			defer l.End()
			tc.enter(l, cancel)
			select {
			case <-l.Context().Done():
			case <-time.After(deadline):
				t.Fatal("the funnel was not entered")
			}
			if l.Status() != tc.status {
				t.Fatalf("Status() = %d, want %d", l.Status(), tc.status)
			}
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			end := time.Now().Add(deadline)
			for !strings.Contains(stderr.String(), "ccci-lock: got SIGTERM again during teardown; ignoring") {
				if time.Now().After(end) {
					t.Fatalf("no second-signal line; stderr %q", stderr.String())
				}
				time.Sleep(time.Millisecond)
			}
			if l.Status() != tc.status || !strings.Contains(stderr.String(), "ccci-lock: "+tc.log) {
				t.Fatalf("status %d, stderr %q", l.Status(), stderr.String())
			}
			// Run after the funnel starts nothing.
			marker := filepath.Join(t.TempDir(), "ran")
			if st, _ := l.Run(Cmd{Argv: []string{"touch", marker}}); st != tc.status {
				t.Fatalf("Run after the funnel = %d", st)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("Run after the funnel started the command")
			}
		})
	}
}

// TestNested: a Lifetime begun under another's Context inherits its status.
func TestNested(t *testing.T) {
	outer := Begin(context.Background(), Options{Deadline: time.Millisecond})
	defer outer.End()
	inner := Begin(outer.Context(), Options{})
	defer inner.End()
	<-inner.Context().Done()
	if inner.Status() != 124 {
		t.Fatalf("inner Status() = %d, want 124", inner.Status())
	}
}

// TestInitRefusesOutsideNamespace: the init run by hand, outside a PID
// namespace, must not kill(-1) (that would signal every process we may).
func TestInitRefusesOutsideNamespace(t *testing.T) {
	if st := InitMain([]string{"lock", "ns", "1s", "true"}); st != 2 {
		t.Fatalf("InitMain outside a namespace = %d, want 2", st)
	}
}

// TestRunStarted: Cmd.Started is called once per Run, while the command
// still runs (it waits for the call), and Run does not wait for it.
func TestRunStarted(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{})
	l := Begin(context.Background(), Options{Prog: "lock"})
	defer l.End()
	calls := 0
	st, err := l.Run(Cmd{
		// The command ends once Started has made the file; 1 if it did
		// not within 10s.
		Argv:    []string{"sh", "-c", "end=$(($(date +%s) + 10)); until test -e started; do test $(date +%s) -lt $end || exit 1; sleep 0.01; done"},
		Dir:     dir,
		Started: func() { calls++; os.WriteFile(filepath.Join(dir, "started"), nil, 0o600); close(started) },
	})
	if err != nil || st != 0 {
		t.Fatalf("Run = %d, %v; want 0", st, err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("Started not called")
	}
	if calls != 1 {
		t.Fatalf("Started called %d times, want 1", calls)
	}
}
