package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEngine serves /_ping announcing version (none when ""), records the
// request paths, and answers everything else with handler.
type fakeEngine struct {
	mu    sync.Mutex
	paths []string
}

func (f *fakeEngine) serve(t *testing.T, unix bool, version string, handler http.HandlerFunc) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		if r.URL.Path == "/_ping" {
			if version != "" {
				w.Header().Set("Api-Version", version)
			}
			w.Write([]byte("OK"))
			return
		}
		handler(w, r)
	})
	if !unix {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return "tcp://" + strings.TrimPrefix(s.URL, "http://")
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return "unix://" + sock
}

func (f *fakeEngine) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[len(f.paths)-1]
}

func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// TestEngineVersion: the API version is the lower of the engine's and
// ours, ours when the engine announces none, DOCKER_API_VERSION when set;
// an engine older than the oldest supported is refused. Over the socket
// and over tcp.
func TestEngineVersion(t *testing.T) {
	for _, tc := range []struct {
		name, engine, fixed, want, err string
	}{
		{name: "older engine", engine: "1.45", want: "/v1.45/services"},
		{name: "newer engine", engine: "1.99", want: "/v" + maxAPIVersion + "/services"},
		{name: "none announced", engine: "", want: "/v" + maxAPIVersion + "/services"},
		{name: "fixed", engine: "1.45", fixed: "1.41", want: "/v1.41/services"},
		{name: "fixed with v", engine: "1.45", fixed: "v1.44", want: "/v1.44/services"},
		{name: "too old", engine: "1.30", err: "older than the oldest supported"},
		{name: "bad fixed", engine: "1.45", fixed: "latest", err: "DOCKER_API_VERSION=latest"},
	} {
		for _, unix := range []bool{true, false} {
			t.Run(tc.name, func(t *testing.T) {
				f := &fakeEngine{}
				host := f.serve(t, unix, tc.engine, func(w http.ResponseWriter, r *http.Request) {
					w.Write([]byte("[]"))
				})
				c, err := New(context.Background(), env("DOCKER_HOST", host, "DOCKER_API_VERSION", tc.fixed))
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("New: %v, want an error with %q", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var out []any
				if err := c.api.call(context.Background(), "GET", "/services", nil, nil, &out); err != nil {
					t.Fatal(err)
				}
				if got := f.last(); got != "GET "+tc.want {
					t.Errorf("request %q, want GET %s", got, tc.want)
				}
			})
		}
	}
}

// TestEngineHost: DOCKER_HOST other than unix:// or tcp:// is an error
// naming it; an absent socket fails the ping saying where it looked.
func TestEngineHost(t *testing.T) {
	for _, tc := range []struct{ host, err string }{
		{"ssh://me@host", "docker client: DOCKER_HOST=ssh://me@host: want unix://"},
		{"npipe:////./pipe/docker_engine", "DOCKER_HOST=npipe:"},
		{"unix://", "DOCKER_HOST=unix://:"},
		{"/var/run/docker.sock", "DOCKER_HOST=/var/run/docker.sock:"},
		{"unix:///nonexistent", "docker ping unix:///nonexistent: cannot connect to the docker API at unix:///nonexistent: dial unix /nonexistent"},
	} {
		_, err := New(context.Background(), env("DOCKER_HOST", tc.host))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("DOCKER_HOST=%s: %v, want %q", tc.host, err, tc.err)
		}
	}
}

// TestEngineErrors: the engine's message is the error's, and its status
// tells not found (404) and conflict (409) apart, as teardown's retries
// and CreateSecrets' "already exists" need.
func TestEngineErrors(t *testing.T) {
	for _, tc := range []struct {
		status             int
		ctype, body, msg   string
		notFound, conflict bool
	}{
		{404, "application/json", `{"message":"service x not found"}`, "Error response from daemon: service x not found", true, false},
		{409, "application/json", `{"message":"volume is in use - [abc]"}`, "Error response from daemon: volume is in use - [abc]", false, true},
		{500, "text/plain", "boom\n", "Error response from daemon: boom", false, false},
		{503, "application/json", `{}`, "Error response from daemon: DELETE /v1.47/volumes/a_b: 503 Service Unavailable", false, false},
	} {
		f := &fakeEngine{}
		host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		})
		c, err := New(context.Background(), env("DOCKER_HOST", host))
		if err != nil {
			t.Fatal(err)
		}
		err = c.remove(context.Background(), Resource{Kind: "volume", ID: "a_b", Name: "a_b"})
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%d: error %v, want %q", tc.status, err, tc.msg)
		}
		if isNotFound(err) != tc.notFound || isConflict(err) != tc.conflict {
			t.Errorf("%d: notFound %v conflict %v", tc.status, isNotFound(err), isConflict(err))
		}
		c.Close()
	}
}

// TestEngineRequests: the paths, queries and bodies sent for removal,
// stop, lookups by filter and creation.
func TestEngineRequests(t *testing.T) {
	f := &fakeEngine{}
	var body map[string]any
	host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
		body = nil
		if r.Method == "POST" && r.ContentLength > 0 {
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: Content-Type %q", r.URL, r.Header.Get("Content-Type"))
			}
			json.NewDecoder(r.Body).Decode(&body)
		}
		switch r.URL.Path {
		case "/v1.47/secrets":
			w.Write([]byte(`[{"ID":"s1","Spec":{"Name":"other"}},{"ID":"s2","Spec":{"Name":"a_b_x"}}]`))
		case "/v1.47/secrets/create":
			w.Write([]byte(`{"ID":"new"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	c, err := New(context.Background(), env("DOCKER_HOST", host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	q := func(s string) string { return url.QueryEscape(s) }
	for _, tc := range []struct {
		do   func() error
		want string
	}{
		{func() error { return c.remove(ctx, Resource{Kind: "container", ID: "c1"}) }, "DELETE /v1.47/containers/c1?force=1&v=1"},
		{func() error { return c.remove(ctx, Resource{Kind: "service", ID: "s 1"}) }, "DELETE /v1.47/services/s%201"},
		{func() error { return c.remove(ctx, Resource{Kind: "network", ID: "n1"}) }, "DELETE /v1.47/networks/n1"},
		{func() error { return c.remove(ctx, Resource{Kind: "volume", ID: "v1", Name: "v1"}) }, "DELETE /v1.47/volumes/v1"},
		{func() error { return c.remove(ctx, Resource{Kind: "config", ID: "g1"}) }, "DELETE /v1.47/configs/g1"},
		{func() error { return c.stopContainer(ctx, "c1", 5) }, "POST /v1.47/containers/c1/stop?t=5"},
		{func() error {
			id, err := c.lookupFileObject(ctx, "a_b_x", true)
			if err == nil && id != "s2" {
				t.Errorf("lookup: id %q, want s2", id)
			}
			return err
		}, "GET /v1.47/secrets?filters=" + q(`{"name":{"a_b_x":true}}`)},
	} {
		if err := tc.do(); err != nil {
			t.Errorf("%s: %v", tc.want, err)
		}
		if got := f.last(); got != tc.want {
			t.Errorf("sent %q, want %q", got, tc.want)
		}
	}
	if err := c.remove(ctx, Resource{Kind: "secret", ID: " "}); err == nil || !strings.Contains(err.Error(), "value is empty") {
		t.Errorf("empty id: %v", err)
	}
	if got := filters("label", "a=b", "label", "c=d").Get("filters"); got != `{"label":{"a=b":true,"c=d":true}}` {
		t.Errorf("filters: %s", got)
	}
}

// TestImageWithTag: images get the moby client's default tag and
// familiar form; invalid references are left alone.
func TestImageWithTag(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for in, want := range map[string]string{
		"nginx":                                 "nginx:latest",
		"nginx:1.27":                            "nginx:1.27",
		"ccci-test-app:latest":                  "ccci-test-app:latest",
		"docker.io/library/nginx":               "nginx:latest",
		"index.docker.io/library/nginx:1":       "nginx:1",
		"docker.io/traefik/whoami":              "traefik/whoami:latest",
		"git.coopcloud.tech/coop-cloud/app:2.0": "git.coopcloud.tech/coop-cloud/app:2.0",
		"localhost:5000/app":                    "localhost:5000/app:latest",
		"localhost/app":                         "localhost/app:latest",
		"nginx@" + dgst:                         "nginx@" + dgst,
		"nginx:1@" + dgst:                       "nginx:1@" + dgst,
		"a/b/c":                                 "a/b/c:latest",
		"nginx:Stable-1":                        "nginx:Stable-1",
		"nginx@sha256:0123":                     "",
		"Nginx":                                 "",
		"nginx:":                                "",
		"-bad":                                  "",
		strings.Repeat("ab", 32):                "",
	} {
		if got := imageWithTag(in); got != want {
			t.Errorf("imageWithTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// A request that changes something and gets no answer (cancelled while
// the engine works on it) marks the client: the engine may still act on
// it, so a teardown must not believe one empty listing. An answered
// request, and an unanswered GET, do not.
func TestEngineUnanswered(t *testing.T) {
	f := &fakeEngine{}
	release := make(chan struct{})
	host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			<-release
		}
		w.Write([]byte("{}"))
	})
	defer close(release)
	c, err := New(context.Background(), env("DOCKER_HOST", host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.api.call(context.Background(), "POST", "/networks/create", nil, map[string]string{}, nil); err != nil {
		t.Fatal(err)
	}
	cancelled := func(method string) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for !strings.Contains(f.last(), "slow="+method) { // the request reached the engine
				runtime.Gosched()
			}
			cancel()
		}()
		if err := c.api.call(ctx, method, "/networks/create", url.Values{"slow": {method}}, nil, nil); err == nil {
			t.Fatalf("%s: answered", method)
		}
	}
	cancelled("GET")
	if c.api.unanswered.Load() {
		t.Fatal("an answered POST or an unanswered GET marked the client")
	}
	cancelled("POST")
	if !c.api.unanswered.Load() {
		t.Fatal("an unanswered POST did not mark the client")
	}
}

// Converge's watch wakes on each event the engine streams for the stack's
// containers, asking for exactly those.
func TestWatchWakes(t *testing.T) {
	f := &fakeEngine{}
	send := make(chan string)
	host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1.47/events" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-send:
				w.Write([]byte(ev + "\n"))
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	c, err := New(context.Background(), env("DOCKER_HOST", host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := c.watch(ctx, "a_b")
	if q := f.last(); !strings.Contains(q, "com.docker.stack.namespace%3Da_b") || !strings.Contains(q, "container") {
		t.Errorf("events asked as %s", q)
	}
	for _, action := range []string{"start", "health_status: healthy"} {
		send <- `{"Type":"container","Action":"` + action + `"}`
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake after %q", action)
		}
	}
}

// TestCheckExternals: as docker stack deploy's validateExternalNetworks,
// an external network must exist and be swarm-scoped (a local bridge
// network of that name cannot be joined by a service), and a predefined
// network (host) is not asked about; every missing one is named.
func TestCheckExternals(t *testing.T) {
	f := &fakeEngine{}
	host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.47/networks/proxy":
			w.Write([]byte(`{"Name":"proxy","Id":"n1","Scope":"swarm"}`))
		case "/v1.47/networks/localnet":
			w.Write([]byte(`{"Name":"localnet","Id":"n2","Scope":"local"}`))
		case "/v1.47/configs":
			w.Write([]byte(`[]`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"not found"}`))
		}
	})
	c, err := New(context.Background(), env("DOCKER_HOST", host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	yml := func(nets ...string) string {
		s := "services:\n  app:\n    image: x\n    networks: [" + strings.Join(nets, ", ") + "]\nnetworks:\n"
		for _, n := range nets {
			s += "  " + n + ": {external: true}\n"
		}
		return s
	}
	for _, tc := range []struct {
		yml, err string
	}{
		{yml("proxy", "host"), ""},
		{yml("proxy", "absent"), "external network absent not found on the swarm (create it before deploying)"},
		{yml("localnet"), `external network localnet has scope "local", not "swarm"`},
		{yml("proxy") + "configs:\n  c: {external: true, name: gone_v1}\n", "external config gone_v1 not found on the swarm"},
	} {
		err := c.CheckExternals(context.Background(), testApp(t, tc.yml))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.yml, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrMissingExternal) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want an ErrMissingExternal with %q", tc.yml, err, tc.err)
		}
	}
	for _, p := range f.paths {
		if strings.Contains(p, "/networks/host") {
			t.Errorf("asked the engine about a predefined network: %s", p)
		}
	}
}

// TestCreateSecrets: the external secrets some service uses are created,
// with value's data, labelled as the app's; an unused one is not (abra's
// `secret generate --all` skips it), nor is its value asked for.
func TestCreateSecrets(t *testing.T) {
	f := &fakeEngine{}
	var specs []map[string]any
	host := f.serve(t, true, "1.47", func(w http.ResponseWriter, r *http.Request) {
		var spec map[string]any
		json.NewDecoder(r.Body).Decode(&spec)
		specs = append(specs, spec)
		w.Write([]byte(`{"ID":"new"}`))
	})
	c, err := New(context.Background(), env("DOCKER_HOST", host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	app := testApp(t, "services:\n  app:\n    image: x\n    secrets: [used]\nsecrets:\n"+
		"  used: {external: true, name: a_used_v1}\n  unused: {external: true, name: a_unused_v1}\n")
	var asked []string
	created, err := c.CreateSecrets(context.Background(), app, func(key string) ([]byte, error) {
		asked = append(asked, key)
		return []byte("v-" + key), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(created, []string{"a_used_v1"}) || !reflect.DeepEqual(asked, []string{"used"}) {
		t.Errorf("created %v, values asked for %v; want a_used_v1 and used alone", created, asked)
	}
	if len(specs) != 1 || specs[0]["Name"] != "a_used_v1" || specs[0]["Data"] != "di11c2Vk" || // base64("v-used")
		specs[0]["Labels"].(map[string]any)[LabelRun] != "42" {
		t.Errorf("sent %v", specs)
	}
}
