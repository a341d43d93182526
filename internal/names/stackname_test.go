package names

import (
	"strings"
	"testing"
)

// StackName follows abra: dots to underscores, then at most MaxStackName
// bytes, so <stack>_<secret>_<version> fits swarm's 64 characters.
func TestStackNameCut(t *testing.T) {
	long := strings.Repeat("a", 40) + ".example.org" // 52 bytes
	for _, c := range []struct{ in, want string }{
		{"app.example.org", "app_example_org"},
		{long, strings.Repeat("a", 40) + "_exam"},
		{strings.Repeat("b", 45), strings.Repeat("b", 45)},
	} {
		if got := StackName(c.in); got != c.want {
			t.Errorf("StackName(%q) = %q, want %q", c.in, got, c.want)
		}
		if n := len(StackName(c.in)); n > MaxStackName {
			t.Errorf("StackName(%q) is %d bytes, more than %d", c.in, n, MaxStackName)
		}
	}
}
