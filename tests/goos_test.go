package tests

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// TestLinuxOnly: built for another system, ccci stops where its Linux-only
// packages begin (internal/lifetime, internal/proc: every file _linux.go)
// with a build-constraint error, before compiling anything, rather than
// on a missing prctl deep inside.
func TestLinuxOnly(t *testing.T) {
	boundary := regexp.MustCompile(`imports \S+/internal/(lifetime|proc): build constraints exclude all Go files`)
	compiled := regexp.MustCompile(`\.go:\d+:\d+: `)
	for _, goos := range []string{"darwin", "freebsd"} {
		cmd := exec.Command("go", "build", "-o", os.DevNull, "..")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		switch {
		case err == nil:
			t.Errorf("GOOS=%s go build: built; want it refused", goos)
		case !boundary.Match(out) || compiled.Match(out):
			t.Errorf("GOOS=%s go build: want only the build-constraint error at internal/lifetime or internal/proc, got:\n%s", goos, out)
		}
	}
}
