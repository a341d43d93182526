package janitor

import (
	"context"
	"testing"
	"time"
)

// A pass that waits for the janitor lock gets it once the other janitor
// releases, and reports the other (holding nothing) while it does not.
func TestExclusiveWait(t *testing.T) {
	dir := t.TempDir()
	rel, other, err := Exclusive(dir)
	if err != nil || other != "" {
		t.Fatalf("first janitor: %q, %v", other, err)
	}
	start := time.Now()
	r2, other, err := ExclusiveWait(context.Background(), dir, 100*time.Millisecond)
	if err != nil || other == "" || r2 != nil {
		t.Fatalf("while held: other %q, err %v, release %v; want the other, nothing held", other, err, r2 != nil)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("gave up after %v, before the 100ms bound", time.Since(start))
	}
	time.AfterFunc(50*time.Millisecond, rel)
	r3, other, err := ExclusiveWait(context.Background(), dir, 10*time.Second)
	if err != nil || other != "" || r3 == nil {
		t.Fatalf("after release: other %q, err %v; want the lock", other, err)
	}
	r3()
}
