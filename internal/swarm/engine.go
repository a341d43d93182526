package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/httpc"
)

const (
	defaultDockerHost = "unix:///var/run/docker.sock"
	// maxAPIVersion is the version of the wire structs we use
	// (github.com/moby/moby/api v1.56); minAPIVersion the oldest engine
	// the moby client accepted, kept so that nothing that worked breaks.
	maxAPIVersion = "1.56"
	minAPIVersion = "1.40"
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 1 << 20
)

// engine is the little of the Docker Engine API this package needs: JSON
// over HTTP/1.1 (internal/httpc) on the unix socket or plain tcp, the API
// version negotiated once as the docker CLI does (TestEngineVersion,
// TestEngineErrors, TestEngineRequests). It replaces
// github.com/moby/moby/client, whose ~45 packages ran their init
// (regexps, otel) on every ccci call whether or not it talked to docker;
// the wire structs it sends and reads are in internal/swarm/api.
type engine struct {
	host    string // DOCKER_HOST as given, for messages
	base    string // a path prefix tcp://host:port/prefix may carry
	version string // "1.NN"; fixed by DOCKER_API_VERSION or set by ping
	fixed   bool
	hc      *httpc.Client
	// unanswered is set once a request that changes something got no
	// answer (cancelled, connection lost): the engine may still act on it.
	unanswered atomic.Bool
}

// newEngine parses host (DOCKER_HOST; "" is the local socket) and version
// (DOCKER_API_VERSION; "" negotiates). It does not connect.
func newEngine(host, version string) (*engine, error) {
	if host == "" {
		host = defaultDockerHost
	}
	e := &engine{host: host}
	proto, addr, _ := strings.Cut(host, "://")
	dialer := &net.Dialer{Timeout: 32 * time.Second}
	// As the moby client: few idle connections, released after 30 s.
	e.hc = &httpc.Client{MaxIdle: 6, IdleTimeout: 30 * time.Second}
	switch {
	case proto == "unix" && addr != "":
		e.hc.Host = "docker"
		e.hc.Dial = func(ctx context.Context) (net.Conn, error) { return dialer.DialContext(ctx, "unix", addr) }
	case proto == "tcp" && addr != "":
		u, err := url.Parse("tcp://" + addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("DOCKER_HOST=%s: not a tcp://host:port address", host)
		}
		e.hc.Host, e.base = u.Host, strings.TrimSuffix(u.Path, "/")
		e.hc.Dial = func(ctx context.Context) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", u.Host) }
	default:
		return nil, fmt.Errorf("DOCKER_HOST=%s: want unix:///path/to/docker.sock or tcp://host:port", host)
	}
	if v := strings.TrimPrefix(strings.TrimSpace(version), "v"); v != "" {
		if _, _, ok := parseVersion(v); !ok {
			return nil, fmt.Errorf("DOCKER_API_VERSION=%s: not an API version like 1.47", version)
		}
		e.version, e.fixed = v, true
	}
	return e, nil
}

// ping checks the engine answers and, unless the version is fixed, uses
// the lower of its API version and ours (none announced: ours).
func (e *engine) ping(ctx context.Context) error {
	resp, err := e.send(ctx, "GET", e.base+"/_ping", nil)
	if err != nil {
		return err
	}
	defer drain(resp)
	if e.fixed {
		return nil
	}
	v := resp.Header.Get("Api-Version")
	if v == "" {
		e.version = maxAPIVersion
		return nil
	}
	if _, _, ok := parseVersion(v); !ok {
		return fmt.Errorf("engine announces API version %q", v)
	}
	if versionLess(v, minAPIVersion) {
		return fmt.Errorf("engine API version %s is older than the oldest supported, %s", v, minAPIVersion)
	}
	e.version = maxAPIVersion
	if versionLess(v, maxAPIVersion) {
		e.version = v
	}
	return nil
}

func (e *engine) close() { e.hc.CloseIdle() }

// call sends in (when not nil) as JSON to the versioned path p with query
// q and decodes the answer into out (when not nil).
func (e *engine) call(ctx context.Context, method, p string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %v", method, p, err)
		}
		body = b
	}
	full := e.base + "/v" + e.version + p
	if len(q) > 0 {
		full += "?" + q.Encode()
	}
	resp, err := e.send(ctx, method, full, body)
	if err != nil {
		return err
	}
	defer drain(resp)
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %v", method, p, err)
	}
	return nil
}

// send does one request; an answer outside 2xx is an *APIError.
func (e *engine) send(ctx context.Context, method, path string, body []byte) (*httpc.Response, error) {
	req := &httpc.Request{Method: method, Target: path, Body: body}
	if body != nil {
		req.Header = map[string]string{"Content-Type": "application/json"}
	}
	resp, err := e.hc.Do(ctx, req)
	if err != nil {
		if method != "GET" {
			e.unanswered.Store(true)
		}
		// Context errors stay bare: callers compare with them.
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return nil, fmt.Errorf("cannot connect to the docker API at %s: %w", e.host, err)
		}
		return nil, fmt.Errorf("%s %s at %s: %w", method, path, e.host, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readAPIError(resp, method, path)
}

// drain reads what is left of the body so the connection can be reused.
func drain(resp *httpc.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// APIError is an answer of the engine outside 2xx: Status is the HTTP
// status (404 not found, 409 conflict or in use), Message the engine's.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return "Error response from daemon: " + e.Message }

func readAPIError(resp *httpc.Response, method, target string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Status: resp.StatusCode}
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		e.Message = strings.TrimSpace(m.Message)
	} else if s := strings.TrimSpace(string(b)); s != "" && !strings.HasPrefix(s, "{") {
		e.Message = s
	} else {
		p, _, _ := strings.Cut(target, "?")
		e.Message = fmt.Sprintf("%s %s: %s", method, p, resp.Status)
	}
	return e
}

// isNotFound and isConflict say what the engine answered: 404, 409 ("in
// use", "already exists", "removal in progress").
func isNotFound(err error) bool { return hasStatus(err, 404) }
func isConflict(err error) bool { return hasStatus(err, 409) }

func hasStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// filters encodes the engine's `filters` query parameter,
// {"label":{"k=v":true}}, from key, value pairs.
func filters(kv ...string) url.Values {
	f := map[string]map[string]bool{}
	for i := 0; i+1 < len(kv); i += 2 {
		if f[kv[i]] == nil {
			f[kv[i]] = map[string]bool{}
		}
		f[kv[i]][kv[i+1]] = true
	}
	b, _ := json.Marshal(f)
	return url.Values{"filters": {string(b)}}
}

// object is the path of one object, /<kind>s/<id>; an empty id is an
// error, as the engine would list the collection instead.
func object(kind, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fmt.Errorf("invalid %s name or ID: value is empty", kind)
	}
	return "/" + kind + "s/" + url.PathEscape(id), nil
}

// parseVersion parses "1.NN".
func parseVersion(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(v, ".")
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return x, y, found && err1 == nil && err2 == nil && x >= 0 && y >= 0
}

// versionLess compares two versions parseVersion accepts.
func versionLess(a, b string) bool {
	am, an, _ := parseVersion(a)
	bm, bn, _ := parseVersion(b)
	return am < bm || am == bm && an < bn
}
