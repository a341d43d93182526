package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/applets/deploy"
	"git.coopcloud.tech/toolshed/ccci/applets/janitor"
	"git.coopcloud.tech/toolshed/ccci/applets/lock"
	"git.coopcloud.tech/toolshed/ccci/applets/runstate"
	"git.coopcloud.tech/toolshed/ccci/applets/sh"
	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/etcdlock"
	"git.coopcloud.tech/toolshed/ccci/internal/flock"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
	ilock "git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version or VCS revision from the build info is shown.
var version = ""

const prefix = "ccci-"

type entry struct {
	main    applet.Main
	summary string
}

var applets = map[string]entry{}

// register adds an applet; a duplicate name is a programming error.
func register(name, summary string, m applet.Main) {
	if _, dup := applets[name]; dup {
		panic("ccci: applet registered twice: " + name)
	}
	applets[name] = entry{m, summary}
}

func init() {
	register("lock", "hold a domain's app lock while a command runs", lock.Main)
	register("runstate", "run-keyed state and a per-run ABRA_DIR", runstate.Main)
	register("deploy", "deploy, converge, test and tear down one app under its lock", deploy.Main)
	register("janitor", "reap what dead runs left; --check proves zero leaks", janitor.Main)
	register("sh", "the embedded shell that runs scripts/", sh.Main)
	// The lock backends, by CCCI_LOCK_BACKEND.
	ilock.Register("file", flock.Open)
	ilock.Register("etcd", func(env *applet.Env) (ilock.Backend, error) { return etcdlock.Open(env) })
}

func lookup(name string) (applet.Main, bool) {
	e, ok := applets[strings.TrimPrefix(name, prefix)]
	return e.main, ok
}

func names() []string {
	var ns []string
	for n := range applets {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// dispatch runs the applet named by argv[0] (ccci-lock) or, when called as
// ccci, by the first argument (ccci lock), and returns its exit status.
func dispatch(argv []string) int {
	if len(argv) > 1 && argv[1] == lifetime.InitArg {
		return lifetime.InitMain(argv[2:])
	}
	env := applet.OS()
	env.Lookup = lookup
	env.Exits = true // main exits with what dispatch returns
	ctx := context.Background()

	name := filepath.Base(argv[0])
	if m, ok := lookup(name); ok && strings.HasPrefix(name, prefix) {
		return m(ctx, env, argv[1:])
	}
	if len(argv) < 2 {
		usage(env.Stderr)
		return applet.ExitUsage
	}
	switch arg := argv[1]; arg {
	case "--list":
		for _, n := range names() {
			fmt.Fprintln(env.Stdout, n)
		}
		return applet.ExitOK
	case "--install":
		return install(env, argv[2:])
	case "--version":
		fmt.Fprintln(env.Stdout, versionString())
		return applet.ExitOK
	case "-h", "--help", "help":
		usage(env.Stdout)
		return applet.ExitOK
	default:
		if m, ok := lookup(arg); ok {
			return m(ctx, env, argv[2:])
		}
		fmt.Fprintf(env.Stderr, "ccci: unknown applet %q\n", arg)
		usage(env.Stderr)
		return applet.ExitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `ccci — safe CI deploys to a shared swarm, as one multi-call binary.

Usage:
  ccci APPLET [ARG...]      or call a symlink named ccci-APPLET
  ccci --list               the applet names, one a line
  ccci --install [-f] DIR   make DIR/ccci-APPLET symlinks to this binary
  ccci --version

Applets:
`)
	for _, n := range names() {
		fmt.Fprintf(w, "  %-9s %s\n", n, applets[n].summary)
	}
	fmt.Fprintf(w, "\nEach applet answers -h with its usage and examples.\n")
}

// install makes DIR/ccci-<applet> symlinks to this binary, as busybox
// --install -s does; -f replaces whatever stands at those names.
func install(env *applet.Env, args []string) int {
	force := false
	if len(args) > 0 && args[0] == "-f" {
		force, args = true, args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(env.Stderr, "ccci: usage: ccci --install [-f] DIR")
		return applet.ExitUsage
	}
	dir := args[0]
	exe, err := filepath.Abs(env.Exe)
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "ccci: --install: locate this binary: %v\n", err)
		return applet.ExitFailure
	}
	// DIR itself may be created, never its parents: a typo must not
	// leave a new tree behind (as the lock dir, internal/flock ensureDir).
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		fmt.Fprintf(env.Stderr, "ccci: --install: %v\n", err)
		return applet.ExitFailure
	}
	status := applet.ExitOK
	for _, n := range names() {
		link := filepath.Join(dir, prefix+n)
		if force {
			// -f replaces a file or a link, never a directory (os.Remove
			// would delete an empty one).
			if fi, err := os.Lstat(link); err == nil && fi.IsDir() {
				fmt.Fprintf(env.Stderr, "ccci: --install: %s is a directory; not replacing it\n", link)
				status = 1
				continue
			}
			if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(env.Stderr, "ccci: --install: %v\n", err)
				status = 1
				continue
			}
		}
		if err := os.Symlink(exe, link); err != nil {
			if errors.Is(err, os.ErrExist) {
				if t, _ := os.Readlink(link); t == exe {
					continue // already ours: --install is idempotent
				}
				err = fmt.Errorf("%w (use -f to replace it)", err)
			}
			fmt.Fprintf(env.Stderr, "ccci: --install: %v\n", err)
			status = 1
		}
	}
	return status
}

func versionString() string {
	v, rev, goV := version, "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goV = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	s := "ccci " + v
	if rev != "" {
		s += " " + rev
	}
	return s + " " + goV
}
