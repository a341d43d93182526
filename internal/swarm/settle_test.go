package swarm

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTeardownLateNetwork is the deterministic form of what TestDeployKills
// (tests/concurrency) hit only by chance: the engine lists a stack's
// network late, after a listing that was empty (a network whose creation
// was in flight when its creator was SIGKILLed). Against a fake engine
// whose /networks shows the network from the third listing on (the first
// is Teardown's inventory, the second settle's first, empty one), Teardown
// must not believe the empty listing: it keeps listing for SettleQuiet,
// removes the network when it appears, then again waits a full
// SettleQuiet of empty listings before it returns nil. A settle that
// returned on the first empty listing leaves the network (no DELETE); one
// that returned on the first empty listing after the removal fails the
// quiet-period check.
func TestTeardownLateNetwork(t *testing.T) {
	const stack, netID = "app_ci_test", "n1"
	var mu sync.Mutex
	netLists := 0
	var (
		deleted     bool
		deletedAt   time.Time
		emptyAfter  []time.Time // listings of /networks after the DELETE
		lateListing time.Time   // when the network was first listed
	)
	f := &fakeEngine{}
	host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/v1.47")
		switch {
		case r.Method == "GET" && p == "/networks":
			netLists++
			if !deleted && netLists >= 3 {
				if lateListing.IsZero() {
					lateListing = time.Now()
				}
				w.Write([]byte(`[{"Id":"` + netID + `","Name":"` + stack + `_default","Labels":{"` + LabelNamespace + `":"` + stack + `"}}]`))
				return
			}
			if deleted {
				emptyAfter = append(emptyAfter, time.Now())
			}
			w.Write([]byte(`[]`))
		case r.Method == "GET" && p == "/volumes":
			w.Write([]byte(`{"Volumes":[]}`))
		case r.Method == "GET":
			w.Write([]byte(`[]`))
		case r.Method == "DELETE" && p == "/networks/"+netID:
			deleted, deletedAt = true, time.Now()
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	c, err := New(context.Background(), env("DOCKER_HOST", host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	rep, err := c.Teardown(context.Background(), stack, TeardownOptions{Bound: 20 * time.Second})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Teardown: %v (report %+v)", err, rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if lateListing.IsZero() {
		t.Fatalf("Teardown returned after %d listings of /networks, before the engine listed the network late (%v)", netLists, took)
	}
	if !deleted {
		t.Fatalf("the network listed late was never removed: Teardown returned after %v with it still there", took)
	}
	if len(emptyAfter) < 2 {
		t.Fatalf("%d empty listings after the removal, want two, SettleQuiet apart", len(emptyAfter))
	}
	if quiet := emptyAfter[len(emptyAfter)-1].Sub(emptyAfter[0]); quiet < SettleQuiet {
		t.Errorf("after the removal, settle believed %v of empty listings, want at least SettleQuiet (%v)", quiet, SettleQuiet)
	}
	t.Logf("network listed %v after the start, removed %v after that; Teardown took %v",
		lateListing.Sub(start).Round(time.Millisecond), deletedAt.Sub(lateListing).Round(time.Millisecond), took.Round(time.Millisecond))
}
