package tests

import (
	"regexp"

	"github.com/rogpeppe/go-internal/testscript"
)

func mustRegexp(ts *testscript.TestScript, s string) *regexp.Regexp {
	re, err := regexp.Compile(s)
	if err != nil {
		ts.Fatalf("bad regexp %q: %v", s, err)
	}
	return re
}
