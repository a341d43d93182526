package sh

import (
	"bytes"
	"context"
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
