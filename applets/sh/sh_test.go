package sh

import (
	"bytes"
	"context"
	"io"
	"strings"
	"syscall"
	"testing"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// TestMainScripts runs scripts in-process, with a fake applet behind ccci-echo.
func TestMainScripts(t *testing.T) {
	lookup := func(name string) (applet.Main, bool) {
		if name != "echo" {
			return nil, false
		}
		return func(ctx context.Context, env *applet.Env, args []string) int {
			env.Stdout.Write([]byte(env.Getenv("X") + ":" + strings.Join(args, ",") + "\n"))
			return len(args)
		}, true
	}
	for _, tc := range []struct {
		name, script, want string
		status             int
	}{
		{"exit trap at end", `trap 'echo bye $?' EXIT; echo hi`, "hi\nbye 0\n", 0},
		{"exit trap after exit", `trap 'echo bye $?' EXIT; exit 4`, "bye 4\n", 4},
		{"exit trap after errexit", `set -e; trap 'echo bye $?' EXIT; false; echo no`, "bye 1\n", 1},
		{"exit trap runs once", `trap 'echo once; exit 2' EXIT; exit 1`, "once\n", 2},
		{"trap on self TERM, then continue", `trap 'echo T' TERM; kill -TERM $$; echo after`, "T\nafter\n", 0},
		{"trap exits 143", `trap 'exit 143' TERM; kill $$; echo no`, "", 143},
		{"untrapped TERM", `trap 'echo bye $?' EXIT; kill $$; echo no`, "bye 143\n", 143},
		{"ignored INT", `trap '' INT; kill -INT $$; echo alive`, "alive\n", 0},
		{"reset TERM", `trap 'echo T' TERM; trap - TERM; kill $$; echo no`, "", 143},
		{"listing", `trap 'a b' EXIT HUP; trap`, "trap -- 'a b' EXIT\ntrap -- 'a b' SIGHUP\n", 0},
		{"bad signal", `trap x NOPE`, "", 1},
		{"in-process applet", `X=1 ccci-echo a b; echo $?; ccci echo c`, "1:a,b\n2\n:c\n", 1},
		{"background pid is real", `sh -c 'echo $$' & p=$!; wait $p; echo $p`, "", 0},
		{"wait status", `sh -c 'exit 5' & wait $!`, "", 5},
		{"kill job", `sleep 100 & kill %1; wait %1`, "", 143},
		{"in-shell background", `{ exit 3; } & wait $!`, "", 3},
		{"unknown pid", `wait 99999`, "", 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := &applet.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
				Environ: []string{"PATH=/usr/bin:/bin"}, Dir: t.TempDir(), Lookup: lookup}
			got := Main(context.Background(), env, []string{"-c", tc.script})
			if got != tc.status {
				t.Errorf("status %d, want %d (stderr %q)", got, tc.status, errb.String())
			}
			if tc.name == "background pid is real" {
				lines := strings.Fields(out.String())
				if len(lines) != 2 || lines[0] != lines[1] {
					t.Errorf("$! %q is not the child's $$", out.String())
				}
				return
			}
			if out.String() != tc.want {
				t.Errorf("stdout %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
		ok   bool
	}{
		{"TERM", syscall.SIGTERM, true}, {"SIGTERM", syscall.SIGTERM, true}, {"term", syscall.SIGTERM, true},
		{"15", syscall.SIGTERM, true}, {"0", 0, true}, {"HUP", syscall.SIGHUP, true},
		{"NOPE", 0, false}, {"-3", 0, false}, {"99", 0, false},
	} {
		got, ok := parseSignal(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseSignal(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// A division or remainder by zero at run time fails as in bash, naming the
// line, the expression and the rest from the divisor on: an expansion (an
// array subscript, read or assigned, is one) ends the shell (a subshell
// only itself), a command fails with status 1.
// A non-zero divisor computes as before.
func TestDivisions(t *testing.T) {
	const msg = "ccci-sh: -c: line %s: division by 0 (error token is %s)\n"
	for _, tc := range []struct {
		script, stdout, stderr string
		status                 int
	}{
		{`x=2; echo $((7/x)) $((7%x)) $((8/(x*2))); y=9; ((y/=x)); let y%=x; echo $y`, "3 1 2\n0\n", "", 0},
		{`x=0; echo $((5/x)); echo no`, "", `1: 5/x|"x"`, 1},
		{`x=0; echo $[5%x]`, "", `1: 5%x|"x"`, 1},
		{"x=0\n\necho $(( 8 / (4 / x) ))", "", `3: 8 / (4 / x) |"x) "`, 1},
		{`x=0; y=abcd; echo ${y:1/x}`, "", `1: 1/x|"x"`, 1},
		{`set -e; trap 'echo bye $?' EXIT; x=0; : $((x /= 0)); echo no`, "bye 1\n", `1: x /= 0|"0"`, 1},
		{`x=0; (echo $((1/x)); echo no); echo $?`, "1\n", `1: 1/x|"x"`, 0},
		{`x=0; ((y = 5 % x)); echo $?`, "1\n", `1: ((: y = 5 % x|"x"`, 0},
		{`x=0; let y=1+5/x; echo $?`, "1\n", `1: let: y=1+5/x|"x"`, 0},
		{`x=2; a=(1 2 3); a[4/x]=9; echo ${a[4/x]} ${a[@]}`, "9 1 2 9\n", "", 0},
		{`x=0; a=(1 2); echo ${a[1/x]}; echo no`, "", `1: 1/x|"x"`, 1},
		{`x=0; a[1/x]=3; echo no`, "", `1: 1/x|"x"`, 1},
		{`x=0; a=(1 2); ((a[1/x])); echo no`, "", `1: 1/x|"x"`, 1},
	} {
		var out, errb bytes.Buffer
		env := &applet.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Environ: []string{"PATH=/usr/bin:/bin"}, Dir: t.TempDir()}
		got := Main(context.Background(), env, []string{"-c", tc.script})
		want := ""
		if tc.stderr != "" {
			where, token, _ := strings.Cut(tc.stderr, "|")
			want = strings.Replace(strings.Replace(msg, "%s", where, 1), "%s", token, 1)
		}
		if got != tc.status || out.String() != tc.stdout || errb.String() != want {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.script, got, out.String(), errb.String(), tc.status, tc.stdout, want)
		}
	}
}

// A script that opens but cannot be read (a directory) is exit 126, as in
// bash: found, not runnable; one that does not open is 127.
func TestScriptUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		want int
	}{
		{dir, applet.ExitCannotRun},
		{dir + "/missing.sh", applet.ExitNotFound},
	} {
		var errb bytes.Buffer
		env := &applet.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &errb,
			Environ: []string{"PATH=/usr/bin:/bin"}, Dir: dir}
		if got := Main(context.Background(), env, []string{tc.path}); got != tc.want || !strings.Contains(errb.String(), tc.path) {
			t.Errorf("ccci-sh %s: status %d, stderr %q; want %d naming the path", tc.path, got, errb.String(), tc.want)
		}
	}
}

// A construct the interpreter panics on ends the script with status 2 and
// one line naming the failure, and its EXIT trap still runs; never a
// goroutine dump (mvdan.cc/sh v3.14 panics on an associative array's
// ${m[a-b]}, and on an arithmetic assignment to an array element that
// unsupported cannot see, inside eval). A panic in the EXIT trap itself is
// a failure too, never the script's status 0.
func TestInterpPanic(t *testing.T) {
	for _, tc := range []struct{ script, out string }{
		{"trap 'echo cleanup' EXIT; declare -A m; m[x]=1; echo ${m[a-b]}; echo after", "cleanup\n"},
		{"trap 'echo cleanup' EXIT; a=(1 2 3); eval '(( a[2] = 3 ))'; echo after", "cleanup\n"},
		{"trap 'declare -A m; echo ${m[a-b]}; echo after' EXIT; echo body", "body\n"},
	} {
		var out, errb bytes.Buffer
		env := &applet.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Environ: []string{"PATH=/usr/bin:/bin"}, Dir: t.TempDir()}
		got := Main(context.Background(), env, []string{"-c", tc.script})
		if got != applet.ExitUsage || out.String() != tc.out ||
			strings.Count(errb.String(), "the interpreter failed") != 1 || strings.Contains(errb.String(), "goroutine") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 2, %q, one message", tc.script, got, out.String(), errb.String(), tc.out)
		}
	}
}
