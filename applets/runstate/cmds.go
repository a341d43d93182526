package runstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	rs "git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

// initRun creates the run and prints its export lines, all at once and only
// on success, so a failing eval "$(ccci-runstate init)" evaluates nothing.
func initRun(env *applet.Env, r *rs.Run) int {
	abraDir := env.Getenv("ABRA_DIR")
	if abraDir == "" {
		home := env.Getenv("HOME")
		if home == "" {
			env.Errorf(prog, "neither ABRA_DIR nor HOME is set")
			return applet.ExitUsage
		}
		abraDir = home + "/.abra"
	}
	abraDir, err := abs(env, abraDir)
	if err != nil {
		env.Errorf(prog, "%v", err)
		return exitFail
	}
	if err := r.CheckNotTaken(); err != nil {
		env.Errorf(prog, "init %s: %v", r.ID, err)
		return exitFail
	}
	base, err := rs.AbraBase(r.RunsDir, abraDir)
	if err == nil {
		err = r.Init(base)
	}
	if err != nil {
		env.Errorf(prog, "init %s: %v", r.ID, err)
		return exitFail
	}
	var b strings.Builder
	for _, kv := range r.Exports() {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], rs.Quote(kv[1]))
	}
	fmt.Fprint(env.Stdout, b.String())
	return applet.ExitOK
}

func counter(env *applet.Env, r *rs.Run, sub, name string) int {
	var err error
	var n int64
	switch sub {
	case "path":
		var p string
		if p, err = r.Path(name); err == nil {
			fmt.Fprintln(env.Stdout, p)
			return applet.ExitOK
		}
	case "incr":
		n, err = r.Incr(name)
	case "get":
		n, err = r.Get(name)
	}
	if err != nil {
		env.Errorf(prog, "%s %s: %v", sub, name, err)
		return exitFail
	}
	fmt.Fprintln(env.Stdout, n)
	return applet.ExitOK
}

func remove(env *applet.Env, r *rs.Run, o opts) int {
	if err := r.Remove(o.force, o.minAge); err != nil {
		if errors.Is(err, rs.ErrLive) {
			env.Errorf(prog, "rm: %v; not removed (use --force)", err)
		} else {
			env.Errorf(prog, "rm: %v", err)
		}
		return exitFail
	}
	return applet.ExitOK
}

type lsEntry struct {
	rs.Info
	AgeSeconds float64 `json:"age_seconds"`
}

func ls(env *applet.Env, runsDir string, o opts) int {
	infos, err := rs.List(runsDir, o.minAge)
	if err != nil {
		env.Errorf(prog, "ls: %v", err)
		return exitFail
	}
	if o.json {
		out := make([]lsEntry, 0, len(infos))
		for _, i := range infos {
			out = append(out, lsEntry{i, i.Age.Seconds()})
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			env.Errorf(prog, "ls: %v", err)
			return exitFail
		}
		return applet.ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tAGE\tSIZE")
	for _, i := range infos {
		state := "dead"
		switch {
		case i.Held:
			state = "live"
		case i.Live:
			state = "live(young)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", i.ID, state, i.Age.Round(time.Second), i.Size)
	}
	tw.Flush()
	return applet.ExitOK
}

// hold runs cmd while holding the run's live-lock. The lock fd is
// close-on-exec, so cmd does not inherit it; instead cmd gets SIGKILL when
// the thread that started it dies (Pdeathsig; the OS thread is locked so
// it is ours until Wait), so a run never looks dead while its command lives.
func hold(ctx context.Context, env *applet.Env, r *rs.Run, cmd []string) int {
	release, err := r.HoldLive()
	if err != nil {
		env.Errorf(prog, "hold: %v", err)
		return exitFail
	}
	defer release()
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = env.Stdin, env.Stdout, env.Stderr
	c.Env = append(append([]string(nil), env.Environ...), "CCCI_RUN_ID="+r.ID)
	c.Dir = env.Dir
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = 10 * time.Second
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := c.Start(); err != nil {
		env.Errorf(prog, "hold: %v", err)
		return 127
	}
	err = c.Wait()
	if err == nil {
		return applet.ExitOK
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return applet.ExitSignal + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	env.Errorf(prog, "hold: %v", err)
	return exitFail
}
