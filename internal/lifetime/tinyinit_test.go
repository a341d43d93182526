//go:build linux && amd64

package lifetime

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestTinyInitGenerated: the committed tinyinit_amd64.go is what gen.sh
// makes from the committed init.c, byte for byte.
func TestTinyInitGenerated(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is needed to prove tinyinit_amd64.go comes from tinyinit/init.c: %v", err)
	}
	out := filepath.Join(t.TempDir(), "gen.go")
	if b, err := exec.Command("sh", "tinyinit/gen.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("tinyinit_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("tinyinit_amd64.go is stale: run go generate ./internal/lifetime")
	}
	if len(tinyInit) >= 16<<10 {
		t.Fatalf("the tiny init is %d bytes, want < 16 KB", len(tinyInit))
	}
}

// tinyPath writes the tiny init to a file, to run it by hand.
func tinyPath(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "ccci-init")
	if err := os.WriteFile(p, tinyInit, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTinyInitGrace: GRACE is parsed as time.ParseDuration parses what
// Duration.String prints; anything else is DefaultGrace, as in InitMain.
func TestTinyInitGrace(t *testing.T) {
	p := tinyPath(t)
	for _, tc := range []struct{ in, want string }{
		{"10s", "10000000000"}, {"1.5s", "1500000000"}, {"250ms", "250000000"},
		{"1m0s", "60000000000"}, {"1h2m3.5s", "3723500000000"}, {"1.5µs", "1500"},
		{"100ns", "100"}, {"0s", "0"}, {"bogus", "10000000000"}, {"", "10000000000"},
		{"5x", "10000000000"},
	} {
		b, err := exec.Command(p, "__ccci_grace", tc.in).CombinedOutput()
		if got := strings.TrimSpace(string(b)); err != nil || got != tc.want {
			t.Errorf("grace %q = %q, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// TestTinyInit runs the tiny init by hand in a PID namespace of its own.
func TestTinyInit(t *testing.T) {
	p := tinyPath(t)
	for _, tc := range []struct {
		name       string
		asPID2     bool // started by a shell that is PID 1
		parentGone bool // the race pipe's write end closed before the start
		want       int
		stderr     string
	}{
		// kill(-1) would reach only the namespace here, should it happen.
		{name: "not_pid_1", asPID2: true, want: 2, stderr: "not PID 1 of a new PID namespace; refusing"},
		{name: "parent_gone", parentGone: true, want: 137},
		{name: "runs", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "ran")
			argv := []string{"ccci", InitArg, "lock", "ns", "1s", "touch", marker}
			path := p
			if tc.asPID2 {
				path, argv = "/bin/sh", append([]string{"sh", "-c", `"$@"; exit $?`, "sh", p}, argv[1:]...)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			if tc.parentGone {
				w.Close()
			}
			var stderr bytes.Buffer
			cmd := exec.Command(path)
			cmd.Args = argv
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			cmd.Stderr = &stderr
			cmd.ExtraFiles = []*os.File{r}
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
			err = cmd.Run()
			r.Close()
			w.Close()
			if st := cmd.ProcessState.ExitCode(); st != tc.want {
				t.Fatalf("status %d (%v), want %d; stderr %q", st, err, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
			if _, err := os.Stat(marker); (err == nil) != (tc.want == 0) {
				t.Errorf("the command ran: %v, want %v", err == nil, tc.want == 0)
			}
		})
	}
}

// TestTinyInitLikeGoInit: for commands that cannot start, the tiny init and
// the Go init give the same status and the same message.
func TestTinyInitLikeGoInit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "noshebang"), []byte("\x00\x01garbage"), 0o755)
	os.WriteFile(filepath.Join(dir, "badinterp"), []byte("#!/no/such/sh\n"), 0o755)
	for _, argv := range [][]string{
		{"true"}, {"sh", "-c", "exit 7"}, {"sh", "-c", "kill -KILL $$"},
		{"ccci-no-such-command"}, {"/no/such/file"}, {"./noexec"}, {"noexec"},
		{dir}, {"/dev/null"}, {"./noshebang"}, {"./badinterp"}, {"/etc/passwd/x"},
		{"."}, {""}, {"sh", "-c", "sleep 1000 & exit 3"},
	} {
		run := func(env ...string) (int, string) {
			var stderr syncBuffer
			l := Begin(context.Background(), Options{Prog: "lock", Stderr: &stderr, Grace: 100e6})
			defer l.End()
			env = append(env, "PATH="+dir+":"+os.Getenv("PATH"))
			st, err := l.Run(Cmd{Argv: argv, Env: env, Dir: dir, Stderr: &stderr})
			if err != nil {
				t.Fatalf("Run(%q): %v", argv, err)
			}
			return st, stderr.String()
		}
		gst, gerr := run("CCCI_GO_INIT=1")
		tst, terr := run()
		if gst != tst || gerr != terr {
			t.Errorf("Run(%q): Go init %d %q, tiny init %d %q", argv, gst, gerr, tst, terr)
		}
	}
	if tinyOff.Load() {
		t.Fatal("the tiny init failed to start and was switched off")
	}
}

// TestScriptGoInit runs testdata/script with CCCI_GO_INIT=1: the Go init
// keeps every guarantee the tiny one gives (it is the init for MODE "pg"
// and other arches).
func TestScriptGoInit(t *testing.T) {
	testscript.Run(t, scriptParams(func(e *testscript.Env) error {
		e.Setenv("CCCI_GO_INIT", "1")
		return nil
	}))
}
