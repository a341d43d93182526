package tests

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The two local users of testdata/unprivileged: the runner's (in the docker
// group, as a Drone runner's user is) and another, the attacker.
const (
	runnerUser = "ccci-test"
	otherUser  = "ccci-test2"
)

var unprivSeq atomic.Int64

// TestUnprivileged runs testdata/unprivileged: ccci-lock, ccci-runstate and
// ccci-janitor as an unprivileged runner user, and the attacks of a second
// local user that docs/concurrency.md says cannot work. The test runs as
// root (the suite does) to create the users and to switch to them
// (setpriv); it fails, never skips, as anyone else. Scripts run the two
// users' commands through `asrunner` and `asother`, in a tree they can
// reach ($BASE, 0755): the ccci binary, $LOCKS (1777 root, as /run/lock),
// $OWNLOCK (0755 runner's, the recommended lock dir), $RUNS (0700
// runner's), $ABRA, $FLAGS (the runner's, for readiness files), $UNIQ (a
// number no other test process uses, for swarm-visible domains).
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it creates the users " + runnerUser + " and " + otherUser + " and runs commands as them")
	}
	for _, u := range []struct{ name, groups string }{{runnerUser, "docker"}, {otherUser, ""}} {
		if err := ensureUser(u.name, u.groups); err != nil {
			t.Fatal(err)
		}
	}
	p := params("unprivileged")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		return unprivSetup(e)
	}
	testscript.Run(t, p)
}

// ensureUser creates a system user with no home and no login shell, unless
// it exists. Another test process may create it at the same moment: a
// failed useradd counts if the user exists afterwards.
func ensureUser(name, groups string) error {
	if _, err := user.Lookup(name); err == nil {
		return nil
	}
	args := []string{"--system", "--no-create-home", "--shell", "/usr/sbin/nologin"}
	if groups != "" {
		args = append(args, "--groups", groups)
	}
	out, err := exec.Command("useradd", append(args, name)...).CombinedOutput()
	if _, lerr := user.Lookup(name); lerr != nil {
		return fmt.Errorf("useradd %s: %v: %s", name, err, out)
	}
	return nil
}

func unprivSetup(e *testscript.Env) error {
	runner, err := user.Lookup(runnerUser)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(runner.Uid)
	gid, _ := strconv.Atoi(runner.Gid)
	base, err := os.MkdirTemp("", "ccci-unpriv-")
	if err != nil {
		return err
	}
	e.Defer(func() { os.RemoveAll(base) })
	bin := filepath.Join(base, "bin")
	dirs := []struct {
		name  string
		mode  uint32 // with the sticky bit, which os.Chmod spells otherwise
		owned bool   // by the runner
	}{
		{"", 0o755, false}, {"bin", 0o755, false}, {"tmp", 0o1777, false},
		{"lock", 0o1777, false}, {"ownlock", 0o755, true}, {"runs", 0o700, true},
		{"abra", 0o755, true}, {"abra/servers", 0o755, true}, {"abra/catalogue", 0o755, true},
		{"flags", 0o755, true},
	}
	for _, d := range dirs {
		p := filepath.Join(base, d.name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
		if err := syscall.Chmod(p, d.mode); err != nil {
			return err
		}
		if d.owned {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	// The binary where they can reach it (binDir is 0700, root's): a hard
	// link, as a copy being written while a parallel script forks could
	// not be run (ETXTBSY).
	if err := os.Link(filepath.Join(binDir, "ccci"), filepath.Join(bin, "ccci")); err != nil {
		return err
	}
	if out, err := exec.Command(filepath.Join(bin, "ccci"), "--install", bin).CombinedOutput(); err != nil {
		return fmt.Errorf("ccci --install: %v: %s", err, out)
	}
	for name, who := range map[string]string{
		"asrunner": "--reuid=" + runnerUser + " --regid=" + runnerUser + " --init-groups",
		"asother":  "--reuid=" + otherUser + " --regid=" + otherUser + " --clear-groups",
	} {
		sh := "#!/bin/sh\n# " + name + " CMD [ARG...]: CMD as that user, in this environment.\nexec setpriv " + who + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(sh), 0o755); err != nil {
			return err
		}
	}
	e.Setenv("BASE", base)
	e.Setenv("PATH", bin+string(os.PathListSeparator)+e.Getenv("PATH"))
	e.Setenv("TMPDIR", filepath.Join(base, "tmp"))
	e.Setenv("LOCKS", filepath.Join(base, "lock"))
	e.Setenv("OWNLOCK", filepath.Join(base, "ownlock"))
	e.Setenv("RUNS", filepath.Join(base, "runs"))
	e.Setenv("FLAGS", filepath.Join(base, "flags"))
	e.Setenv("CCCI_LOCK_DIR", filepath.Join(base, "lock"))
	e.Setenv("CCCI_RUNS_DIR", filepath.Join(base, "runs"))
	e.Setenv("ABRA_DIR", filepath.Join(base, "abra"))
	e.Setenv("UNIQ", fmt.Sprintf("%d%d", os.Getpid(), unprivSeq.Add(1)))
	return nil
}
