package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestList: List names the lock dir's lockfiles by domain without opening
// them; a name that is no domain's and an entry that is not a regular
// file come back with Err, other files not at all; a missing dir is
// os.ErrNotExist.
func TestList(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	os.WriteFile(b.Path("app-1.ci.example"), nil, 0o644)
	os.Mkdir(b.Path("app-2.ci.example"), 0o755)
	os.WriteFile(filepath.Join(dir, filePrefix+"Not_A_Domain"+fileSuffix), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "ccci-janitor.lock"), nil, 0o644)
	ls, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		s := l.Domain + " " + filepath.Base(l.Where)
		if l.Err != nil {
			s += " err"
		}
		got = append(got, s)
	}
	want := " cc-ci-app-Not_A_Domain.lock err|app-1.ci.example cc-ci-app-app-1.ci.example.lock|app-2.ci.example cc-ci-app-app-2.ci.example.lock err"
	sort.Strings(got) // List is in directory order
	if strings.Join(got, "|") != want {
		t.Errorf("List:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if ls, err := New(filepath.Join(dir, "missing")).List(context.Background()); ls != nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v, %v", ls, err)
	}
}

// TestNamespace: one lock dir is one namespace however it is spelled (a
// symlink to it, a relative path), and one not created yet already has
// the name it will have; another dir is another namespace.
func TestNamespace(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(dir, "link"))
	ns := func(d string) string {
		s, err := New(d).Namespace(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	host, _ := os.Hostname()
	if id := machineID(); id != "" {
		// Two hosts with one hostname are two namespaces.
		host += "/" + id
	}
	want := ns(real)
	if !strings.HasPrefix(want, "file:"+host+":/") || !strings.HasSuffix(want, "/real") {
		t.Errorf("namespace %q, want file:%s:.../real", want, host)
	}
	if got := ns(filepath.Join(dir, "link")); got != want {
		t.Errorf("through a symlink: %q, want %q", got, want)
	}
	t.Chdir(dir)
	if got := ns("real"); got != want {
		t.Errorf("relative: %q, want %q", got, want)
	}
	later := ns(filepath.Join(dir, "link", "sub"))
	os.Mkdir(filepath.Join(real, "sub"), 0o755)
	if got := ns(filepath.Join(real, "sub")); got != later {
		t.Errorf("created later: %q, before %q", got, later)
	}
	if ns(filepath.Join(dir, "other")) == want {
		t.Error("another dir, the same namespace")
	}
}

// TestIDPrefix: a machine id names the host by its first 12 hex digits;
// anything else (an empty file, systemd's "uninitialized", garbage) names
// nothing, and the hostname alone is used.
func TestIDPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"3d1219c7c4c5404aaa1f6d2a48adfda4\n": "3d1219c7c4c5",
		"":                                   "",
		"uninitialized\n":                    "",
		"3d1219c7c4c\n":                      "",
		"3D1219C7C4C5404AAA1F6D2A48ADFDA4":   "",
		"3d1219c7c4c5:../x":                  "",
	} {
		if got := idPrefix(in); got != want {
			t.Errorf("idPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
