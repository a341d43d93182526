// Package sh is the ccci-sh applet: a POSIX/bash shell embedded from
// mvdan.cc/sh/v3 that runs the scripts in scripts/ with what the bare
// interpreter lacks — trap for HUP/INT/QUIT/TERM/USR1/USR2 and an EXIT trap
// that runs exactly once on every way out, setsid, kill, background jobs
// with real pids and wait — and that runs ccci-* commands in-process.
//
// Synopsis:
//
//	ccci-sh [-eux] [-o OPT] SCRIPT [ARG...]
//	ccci-sh [-eux] [-o OPT] -c CMD [ARG0 [ARG...]]
//	ccci-sh [-eux] [-o OPT] < SCRIPT
package sh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Usage is printed for -h.
const Usage = `Usage: ccci-sh [-eux] [-o OPTION] SCRIPT [ARG...]
       ccci-sh [-eux] [-o OPTION] -c 'COMMANDS' [ARG0 [ARG...]]
       ccci-sh [-eux] [-o OPTION] < SCRIPT

A POSIX/bash shell (mvdan.cc/sh/v3) for the scripts in scripts/. On top of
the interpreter it provides:
  trap ACTION EXIT|HUP|INT|QUIT|TERM|USR1|USR2|ERR, trap -p, trap (listing)
      a signal trap runs after the foreground command returns, as in bash;
      'wait' is interrupted by a trapped signal (status 128+N, trap runs);
      the EXIT trap runs once on every way out: end, exit N, set -e, signal.
      An untrapped HUP/INT/QUIT/TERM/USR1/USR2 passes the signal to the
      foreground command, runs the EXIT trap and exits 128+N.
  setsid [-w] CMD...   run CMD in a new session (its pid is its pgid)
  CMD &, $!, wait [PID|%N], kill [-SIG] PID|%N|-PGID
      a background simple command is a real child process; $! is its pid
  ccci-APPLET ..., ccci APPLET ...
      run in this process (no PATH needed); in the background, or under
      setsid, they run as a child process of this same binary.

Options:
  -c COMMANDS   run COMMANDS; ARG0 becomes $0, further ARGs $1...
  -e -u -x -o OPTION   as set(1) does
  -h            this help

Examples:
  ccci-sh scripts/drone-step.sh ccci-deploy --recipe ./myrecipe myrecipe-1.ci.example.org
  ccci-sh -c 'trap "echo bye" EXIT; ccci-runstate --run 1 path deploys'
  echo 'setsid sleep 60 & kill -TERM -- -$!; wait' | ccci-sh
`

// Main runs ccci-sh.
func Main(ctx context.Context, env *applet.Env, args []string) int {
	var opts []string
	hasCommand := false
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if a == "-h" || a == "--help" {
			fmt.Fprint(env.Stdout, Usage)
			return applet.ExitOK
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		args = args[1:]
		for _, c := range a[1:] {
			switch {
			case c == 'c' && a[0] == '-':
				hasCommand = true
			case c == 'o':
				if len(args) == 0 {
					return env.Usage("sh", Usage, fmt.Errorf("option %co needs an argument", a[0]))
				}
				opts, args = append(opts, string(a[0])+"o", args[0]), args[1:]
			case strings.ContainsRune("eufnx", c):
				opts = append(opts, string(a[0])+string(c))
			default:
				return env.Usage("sh", Usage, fmt.Errorf("invalid option %c%c", a[0], c))
			}
		}
	}

	var (
		src    io.Reader
		name   string
		arg0   string
		params []string
		stdin  = env.Stdin
	)
	switch {
	case hasCommand:
		if len(args) == 0 {
			return env.Usage("sh", Usage, errors.New("-c needs a command"))
		}
		src, name, arg0 = strings.NewReader(args[0]), "-c", "ccci-sh"
		if len(args) > 1 {
			arg0, params = args[1], args[2:]
		}
	case len(args) > 0:
		path := args[0]
		if env.Dir != "" && !strings.HasPrefix(path, "/") {
			path = env.Dir + "/" + path
		}
		f, err := os.Open(path)
		if err != nil {
			env.Errorf("sh", "%v", err)
			return applet.ExitNotFound // as bash does for a script it cannot open
		}
		defer f.Close()
		src, name, arg0, params = f, args[0], args[0], args[1:]
	default:
		src, name, arg0 = env.Stdin, "ccci-sh", "ccci-sh"
		stdin = strings.NewReader("") // the script consumed it
	}

	text, err := io.ReadAll(src)
	if err != nil {
		env.Errorf("sh", "%s: %v", name, err)
		return applet.ExitCannotRun // as bash does for a script it cannot read (a directory)
	}
	file, err := syntax.NewParser().Parse(bytes.NewReader(text), name)
	if err != nil {
		env.Errorf("sh", "%v", err)
		return applet.ExitUsage // bash's status for a syntax error
	}
	if err := unsupported(file); err != nil {
		env.Errorf("sh", "%s: %v", name, err)
		return applet.ExitUsage
	}
	file.Name = arg0
	rewrite(file)
	divisions(file, text, name)

	s := newShell(env)
	return s.run(ctx, file, name, stdin, append(opts, append([]string{"--"}, params...)...))
}
