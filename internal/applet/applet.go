// Package applet is what every ccci applet is handed and what it returns.
//
// An applet never touches os.Args, os.Exit, global flags or the process's
// working directory: context, streams, environment and arguments come in
// through Env and Main's parameters, and an exit status goes out. That is
// what lets ccci-sh run applets in-process and tests call them directly
// (the lesson of u-root and gobusybox).
package applet

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses shared by every applet (../shared/CONTRACT.md, "Exit
// codes"), and those of a command an applet runs (status.go): the only
// place ccci defines them.
const (
	ExitOK        = 0   // success
	ExitConflict  = 1   // lock conflict under -n, or -w timeout
	ExitFailure   = 1   // any other failure (ccci-runstate, ccci-sh builtins)
	ExitUsage     = 2   // usage error or invalid input
	ExitInvariant = 3   // a run invariant was violated (deploy-count != 1)
	ExitLost      = 75  // the lock was lost while held (etcd lease expired); EX_TEMPFAIL
	ExitDeadline  = 124 // the hard deadline expired, as timeout(1)
	ExitCannotRun = 126 // the command was found but could not be started, as a shell's
	ExitNotFound  = 127 // the command was not found, as a shell's
	ExitSignal    = 128 // plus the signal number, after teardown completed
)

// Main is an applet's entry point. args excludes the applet's own name.
type Main func(ctx context.Context, env *Env, args []string) int

// Env is an applet's view of the process it runs in.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ holds KEY=VALUE pairs; the last one of a key wins, as in os/exec.
	Environ []string
	// Dir is the working directory; empty means the process's own.
	Dir string
	// Exe is the path of the ccci binary itself, for re-executing it
	// (the PID-namespace init, ccci-sh running applets as processes).
	Exe string
	// Lookup finds another applet by name ("lock", not "ccci-lock").
	// The dispatcher sets it; ccci-sh uses it to run applets in-process.
	Lookup func(name string) (Main, bool)
	// Exits says the process exits when Main returns: the dispatcher sets
	// it for the applet it runs, never ccci-sh for one it runs in-process.
	// What Main set up process-wide (signal handlers) need not be undone.
	Exits bool
}

// OS returns the Env of the running process.
func OS() *Env {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ(), Exe: exe}
}

// LookupEnv returns the value of key in e.Environ.
func (e *Env) LookupEnv(key string) (string, bool) {
	for i := len(e.Environ) - 1; i >= 0; i-- {
		k, v, ok := strings.Cut(e.Environ[i], "=")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Getenv returns the value of key, or "" when unset.
func (e *Env) Getenv(key string) string {
	v, _ := e.LookupEnv(key)
	return v
}

// GetenvDefault returns the value of key, or def when unset or empty.
func (e *Env) GetenvDefault(key, def string) string {
	if v := e.Getenv(key); v != "" {
		return v
	}
	return def
}

// With returns a copy of e whose environment also holds kv ("KEY=VALUE"),
// replacing earlier values of the same keys.
func (e *Env) With(kv ...string) *Env {
	c := *e
	c.Environ = append(append([]string(nil), e.Environ...), kv...)
	return &c
}

// Errorf prints "ccci-<prog>: <message>" to e.Stderr, the shape of every
// error ccci reports.
func (e *Env) Errorf(prog, format string, args ...any) {
	fmt.Fprintf(e.Stderr, "ccci-%s: %s\n", prog, fmt.Sprintf(format, args...))
}
