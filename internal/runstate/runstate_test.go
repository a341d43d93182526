package runstate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

func TestOpenRefusesBadIDs(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a;b", "$(id)", "a b", "'q'", strings.Repeat("x", 65)} {
		if _, err := Open(runs, id); err == nil {
			t.Errorf("Open(%q): no error", id)
		}
	}
	if _, err := os.Stat(runs); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runs dir touched: %v", err)
	}
}

func TestPath(t *testing.T) {
	r, err := Open("/runs", "42")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{"deploy-count", "/runs/42/state/deploy-count", true},
		{"a.b_c", "/runs/42/state/a.b_c", true},
		{"..", "", false},
		{"x/y", "", false},
		{"", "", false},
	} {
		got, err := r.Path(c.name)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Path(%q) = %q, %v; want %q, ok=%v", c.name, got, err, c.want, c.ok)
		}
	}
}

// TestRunsDirRefused: a runs dir anyone may write to, or owned by another
// user, is refused by Open, List and Init, and nothing is made in it.
func TestRunsDirRefused(t *testing.T) {
	for _, c := range []struct {
		name, want string
		spoil      func(dir string) error
	}{
		{"world-writable", "world- or group-writable", func(d string) error { return os.Chmod(d, 0o777) }},
		{"group-writable", "world- or group-writable", func(d string) error { return os.Chmod(d, 0o770) }},
		{"other owner", "owned by uid 65534", func(d string) error { return os.Chown(d, 65534, 65534) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "other owner" && os.Geteuid() != 0 {
				t.Fatal("chown to another user needs root: run the suite as root (make test)")
			}
			runs := t.TempDir()
			if err := c.spoil(runs); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(runs, "1"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v; want %q", err, c.want)
			}
			if _, err := List(runs, 0); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("List: %v; want %q", err, c.want)
			}
			r := &Run{ID: "1", Dir: filepath.Join(runs, "1"), RunsDir: runs}
			if err := r.Init(t.TempDir()); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Init: %v; want %q", err, c.want)
			}
			if es, _ := os.ReadDir(runs); len(es) != 0 {
				t.Errorf("runs dir holds %d entries; want none", len(es))
			}
		})
	}
}

func TestInitIdempotentNoNesting(t *testing.T) {
	tmp := t.TempDir()
	runs, base := filepath.Join(tmp, "runs"), filepath.Join(tmp, "abra")
	r, _ := Open(runs, "7")
	for i := 0; i < 2; i++ {
		if err := r.Init(base); err != nil {
			t.Fatalf("Init #%d: %v", i+1, err)
		}
	}
	fi, err := os.Stat(r.Dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("run dir: %v %v", fi.Mode(), err)
	}
	for _, s := range []string{"servers", "catalogue"} {
		got, err := os.Readlink(filepath.Join(r.AbraDir(), s))
		if err != nil || got != filepath.Join(base, s) {
			t.Errorf("abra/%s -> %q, %v", s, got, err)
		}
	}
	// ABRA_DIR already a run's abra dir (after eval): the same base.
	for _, c := range []struct{ in, want string }{
		{r.AbraDir(), base},
		{base, base},
		{"/elsewhere/.abra", "/elsewhere/.abra"},
	} {
		if got, err := AbraBase(runs, c.in); err != nil || got != c.want {
			t.Errorf("AbraBase(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if err := r.Init(filepath.Join(tmp, "other")); err == nil {
		t.Errorf("Init with another base: no error")
	}
}

func TestCounter(t *testing.T) {
	r, _ := Open(filepath.Join(t.TempDir(), "runs"), "c")
	if n, err := r.Get("n"); n != 0 || err != nil {
		t.Fatalf("Get before Incr = %d, %v", n, err)
	}
	for want := int64(1); want <= 3; want++ {
		if n, err := r.Incr("n"); n != want || err != nil {
			t.Fatalf("Incr = %d, %v; want %d", n, err, want)
		}
	}
	p, _ := r.Path("n")
	os.WriteFile(p, []byte("garbage"), 0o600)
	if _, err := r.Get("n"); err == nil {
		t.Errorf("Get of a corrupt counter: no error")
	}
}

func TestLive(t *testing.T) {
	r, _ := Open(filepath.Join(t.TempDir(), "runs"), "l")
	if live, err := r.Live(time.Hour); live || err != nil {
		t.Fatalf("missing run: live=%v, %v", live, err)
	}
	if err := r.Init(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if live, _ := r.Live(time.Hour); !live {
		t.Errorf("a young run is not live")
	}
	if live, _ := r.Live(0); live {
		t.Errorf("an unheld run with min age 0 is live")
	}
	release, err := r.HoldLive()
	if err != nil {
		t.Fatal(err)
	}
	// flock conflicts between open file descriptions, also in one process.
	if live, _ := r.Live(0); !live {
		t.Errorf("a held run is not live")
	}
	if err := r.Remove(false, 0); !errors.Is(err, ErrLive) {
		t.Errorf("Remove of a held run: %v; want ErrLive", err)
	}
	if err := r.Remove(false, 0); err == nil {
		t.Fatal("removed")
	}
	release()
	if live, _ := r.Live(0); live {
		t.Errorf("released run is live")
	}
	if err := r.Remove(false, time.Hour); !errors.Is(err, ErrLive) {
		t.Errorf("Remove of a just-released run under min age: %v; want ErrLive", err)
	}
	if err := r.Remove(false, 0); err != nil {
		t.Errorf("Remove of a dead run: %v", err)
	}
	if _, err := os.Lstat(r.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run dir still there: %v", err)
	}
	if err := r.Remove(false, 0); err != nil {
		t.Errorf("Remove of a missing run: %v", err)
	}
}

// TestRemoveSymlinks plants symlinks to the shared dirs, to files outside
// and to / all through the run dir; Remove must unlink the links only.
func TestRemoveSymlinks(t *testing.T) {
	tmp := t.TempDir()
	runs, base, outside := filepath.Join(tmp, "runs"), filepath.Join(tmp, "abra"), filepath.Join(tmp, "outside")
	r, _ := Open(runs, "s")
	if err := r.Init(base); err != nil {
		t.Fatal(err)
	}
	keep := []string{
		filepath.Join(base, "servers", "default", "a.example.env"),
		filepath.Join(base, "catalogue", "recipe.json"),
		filepath.Join(outside, "deep", "file"),
	}
	for _, f := range keep {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(r.Dir, "x", "y"), 0o700)
	for link, target := range map[string]string{
		"root":               "/",
		"x/servers":          filepath.Join(base, "servers"),
		"x/y/out":            outside,
		"x/y/file":           keep[2],
		"state/deploy-count": keep[0],
		"abra/recipes/r":     filepath.Join(outside, "deep"),
		"abra/servers-rel":   "../../../abra/servers",
		"x/y/dangling":       "/nonexistent/xyz",
		"locks/self":         r.Dir,
	} {
		if err := os.Symlink(target, filepath.Join(r.Dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Remove(true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(r.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run dir still there: %v", err)
	}
	for _, f := range keep {
		if b, err := os.ReadFile(f); err != nil || string(b) != "keep" {
			t.Errorf("%s: %q, %v", f, b, err)
		}
	}
}

// A run dir that is itself a symlink: the link goes, its target stays.
func TestRemoveRunDirSymlink(t *testing.T) {
	tmp := t.TempDir()
	runs, target := filepath.Join(tmp, "runs"), filepath.Join(tmp, "target")
	os.MkdirAll(runs, 0o755)
	os.MkdirAll(target, 0o755)
	os.WriteFile(filepath.Join(target, "f"), nil, 0o644)
	os.Symlink(target, filepath.Join(runs, "evil"))
	r, _ := Open(runs, "evil")
	if err := r.Remove(false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, "f")); err != nil {
		t.Errorf("target touched: %v", err)
	}
	if err := r.Init(filepath.Join(tmp, "abra")); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(r.Dir)
	os.Symlink(target, r.Dir)
	if err := r.Init(filepath.Join(tmp, "abra")); err == nil {
		t.Errorf("Init through a symlinked run dir: no error")
	}
}

// TestQuote: a value goes through Quote into an export line and comes back
// unchanged in bash, dash and mvdan.cc/sh's interpreter (ccci-sh's; the
// binary itself is checked in tests/testdata/runstate/init.txtar). With the
// backslash form of a quote the interpreter case fails ("it\'s").
func TestQuote(t *testing.T) {
	for _, s := range []string{"plain", "/a b/c", "it's", "'", "''", `a'b'c`, `$(touch pwned) "x" \n`, "`id`", "x\ny", ""} {
		src := "export V=" + Quote(s) + "\nprintf %s \"$V\"\n"
		for _, sh := range []string{"bash", "dash"} {
			out, err := exec.Command(sh, "-c", src).Output()
			if err != nil || string(out) != s {
				t.Errorf("%s: Quote(%q) = %s: printed %q, %v", sh, s, Quote(s), out, err)
			}
		}
		if out, err := interpRun(src); err != nil || out != s {
			t.Errorf("mvdan.cc/sh: Quote(%q) = %s: printed %q, %v", s, Quote(s), out, err)
		}
	}
}

func interpRun(src string) (string, error) {
	f, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	r, err := interp.New(interp.StdIO(nil, &out, os.Stderr))
	if err != nil {
		return "", err
	}
	err = r.Run(context.Background(), f)
	return out.String(), err
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"deploy-count": "CCCI_DEPLOY_COUNT_FILE", "a.b": "CCCI_A_B_FILE", "X_1": "CCCI_X_1_FILE"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q; want %q", in, got, want)
		}
	}
}
