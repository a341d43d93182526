package httpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wait bounds every wait on a condition: a test that needs longer has hung.
const wait = 5 * time.Second

// server is a raw HTTP/1.1 server for answers net/http would not write.
// It reads each request with net/http's parser and hands it to answer,
// which writes the answer on c; answer returning false closes c.
type server struct {
	ln     net.Listener
	dials  atomic.Int32  // connections the client dialled
	closed chan struct{} // one receive per connection the client closed
	reqs   chan string   // one "METHOD target body" per request read
}

func newServer(t testing.TB, network string, answer func(c net.Conn, r *http.Request) bool) *server {
	t.Helper()
	ln := listen(t, network)
	s := &server{ln: ln, closed: make(chan struct{}, 100), reqs: make(chan string, 100)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c, answer)
		}
	}()
	return s
}

func (s *server) serve(c net.Conn, answer func(c net.Conn, r *http.Request) bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		r, err := http.ReadRequest(br)
		if err != nil {
			s.closed <- struct{}{}
			return
		}
		body, _ := io.ReadAll(r.Body)
		select { // the first 100 are kept: enough for any test
		case s.reqs <- fmt.Sprintf("%s %s %s", r.Method, r.RequestURI, body):
		default:
		}
		if !answer(c, r) {
			return
		}
	}
}

// client returns a Client for s that counts its dials.
func (s *server) client() *Client {
	network, addr := s.ln.Addr().Network(), s.ln.Addr().String()
	return &Client{Host: "test", Dial: func(ctx context.Context) (net.Conn, error) {
		s.dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// waitClosed waits until the client has closed n connections.
func (s *server) waitClosed(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.closed:
		case <-time.After(wait):
			t.Fatalf("the client closed %d connections, want %d", i, n)
		}
	}
}

// listen listens on a fresh tcp port or unix socket.
func listen(t testing.TB, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		dir, err := os.MkdirTemp("", "httpc") // short: sun_path holds 108 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// answers returns an answer func writing a on each request; keep false
// closes the connection after it.
func answers(a string, keep bool) func(net.Conn, *http.Request) bool {
	return func(c net.Conn, _ *http.Request) bool {
		io.WriteString(c, a)
		return keep
	}
}

func do(t *testing.T, c *Client, r *Request) (*Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := c.Do(ctx, r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Target, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", r.Method, r.Target, err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// TestRequestWire: the request goes out as Do documents it: Host and
// User-Agent first, the caller's fields in name order, Content-Length
// for a body or a POST/PUT and none for a bodiless GET.
func TestRequestWire(t *testing.T) {
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Method: "GET", Target: "/v1.41/info?x=%20y"},
			"GET /v1.41/info?x=%20y HTTP/1.1\r\nHost: test\r\nUser-Agent: ccci\r\n\r\n"},
		{Request{Method: "POST", Target: "/v3/kv/range", Header: map[string]string{"Content-Type": "application/json", "B-Extra": "two words", "A": ""}, Body: []byte(`{"key":"YQ=="}`)},
			"POST /v3/kv/range HTTP/1.1\r\nHost: test\r\nUser-Agent: ccci\r\nA: \r\nB-Extra: two words\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"key\":\"YQ==\"}"},
		{Request{Method: "POST", Target: "/containers/x/stop"},
			"POST /containers/x/stop HTTP/1.1\r\nHost: test\r\nUser-Agent: ccci\r\nContent-Length: 0\r\n\r\n"},
		{Request{Method: "PUT", Target: "/p"},
			"PUT /p HTTP/1.1\r\nHost: test\r\nUser-Agent: ccci\r\nContent-Length: 0\r\n\r\n"},
		{Request{Method: "DELETE", Target: "/d", Body: []byte{}},
			"DELETE /d HTTP/1.1\r\nHost: test\r\nUser-Agent: ccci\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, tt := range tests {
		c := &Client{Host: "test"}
		got, err := c.encode(&tt.req)
		if err != nil {
			t.Fatalf("encode(%+v): %v", tt.req, err)
		}
		if string(got) != tt.want {
			t.Errorf("encode(%+v):\n got %q\nwant %q", tt.req, got, tt.want)
		}
	}
}

// TestRoundTrip: over a unix socket and tcp, net/http's server sees the
// method, target, Host, fields and every byte of the body as sent.
func TestRoundTrip(t *testing.T) {
	body := make([]byte, 100<<10)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			type seen struct {
				method, target, host, ctype, extra string
				clen                               int64
				body                               []byte
			}
			got := make(chan seen, 10)
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("Content-Type"), r.Header.Get("X-Extra"), r.ContentLength, b}
				w.Header().Set("X-Answer", "yes")
				w.WriteHeader(201)
				w.Write(b)
			}))
			ts.Listener.Close()
			ts.Listener = listen(t, network)
			ts.Start()
			defer ts.Close()
			addr := ts.Listener.Addr()
			c := &Client{Host: "docker", Dial: func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, addr.Network(), addr.String())
			}}
			defer c.CloseIdle()

			resp, b := do(t, c, &Request{Method: "POST", Target: "/a/b?c=d", Header: map[string]string{"Content-Type": "application/octet-stream", "X-Extra": "1"}, Body: body})
			s := <-got
			if s.method != "POST" || s.target != "/a/b?c=d" || s.host != "docker" || s.ctype != "application/octet-stream" || s.extra != "1" || s.clen != int64(len(body)) || !bytes.Equal(s.body, body) {
				t.Errorf("server saw %s %s Host %q Content-Type %q X-Extra %q Content-Length %d, %d body bytes (equal: %v)",
					s.method, s.target, s.host, s.ctype, s.extra, s.clen, len(s.body), bytes.Equal(s.body, body))
			}
			if resp.StatusCode != 201 || resp.Status != "201 Created" || resp.Header.Get("x-answer") != "yes" || b != string(body) {
				t.Errorf("answer %d %q X-Answer %q, %d body bytes", resp.StatusCode, resp.Status, resp.Header.Get("x-answer"), len(b))
			}

			resp, b = do(t, c, &Request{Method: "GET", Target: "/info"})
			s = <-got
			if s.method != "GET" || s.target != "/info" || s.clen != 0 || len(s.body) != 0 || resp.StatusCode != 201 || b != "" {
				t.Errorf("GET: server saw %s %s Content-Length %d; answer %d %q", s.method, s.target, s.clen, resp.StatusCode, b)
			}
		})
	}
}

// TestAnswers: each way an answer may carry (or not carry) its body is
// read to the right bytes, and its connection is kept only when the
// answer allows it.
func TestAnswers(t *testing.T) {
	tests := []struct {
		name   string
		method string
		answer string
		close  bool // the server closes after answering
		status int
		body   string
		reused bool
	}{
		{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", true},
		{"content-length repeated", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", true},
		{"zero length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, "", true},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;name=value;q=\"x\"\r\nhello\r\n6 ; ext\r\n world\r\nA\r\n0123456789\r\n0;last\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n",
			false, 200, "hello world0123456789", true},
		{"chunked any case", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding:  Chunked \r\n\r\n2\r\nhi\r\n0\r\n\r\n", false, 200, "hi", true},
		{"chunked beats content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", false, 200, "hi", true},
		{"no length", "GET", "HTTP/1.1 200 OK\r\nX: y\r\n\r\nto the end\nof the connection", true, 200, "to the end\nof the connection", false},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, 200, "", true},
		{"204", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, 204, "", true},
		{"304", "GET", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, 304, "", true},
		{"100 continue", "POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"connection close", "GET", "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", false},
		{"http/1.0", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", false},
		{"http/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"http/1.0 no length", "GET", "HTTP/1.0 404 Not Found\r\n\r\nnot here", true, 404, "not here", false},
		{"lf only", "GET", "HTTP/1.1 500 Internal Server Error\nContent-Length: 3\n\nbad", false, 500, "bad", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, "tcp", answers(tt.answer, !tt.close))
			c := s.client()
			defer c.CloseIdle()
			for i := 0; i < 2; i++ {
				resp, b := do(t, c, &Request{Method: tt.method, Target: "/x"})
				if resp.StatusCode != tt.status || b != tt.body {
					t.Fatalf("answer %d %q, want %d %q", resp.StatusCode, b, tt.status, tt.body)
				}
			}
			want := int32(2)
			if tt.reused {
				want = 1
			}
			if n := s.dials.Load(); n != want {
				t.Errorf("%d dials for two requests, want %d", n, want)
			}
		})
	}
}

// TestAnswerHead: the status and fields are returned as the server wrote
// them, names lower-cased, repeated fields in order.
func TestAnswerHead(t *testing.T) {
	s := newServer(t, "tcp", answers("HTTP/1.1 404 Not  Found \r\nX-A:  1 \r\nx-a:2\r\nEmpty:\r\nContent-Length: 0\r\n\r\n", true))
	resp, _ := do(t, s.client(), &Request{Method: "GET", Target: "/"})
	if resp.StatusCode != 404 || resp.Status != "404 Not  Found" {
		t.Errorf("status %d %q", resp.StatusCode, resp.Status)
	}
	if got := resp.Header["x-a"]; len(got) != 2 || got[0] != "1" || got[1] != "2" || resp.Header.Get("X-A") != "1" {
		t.Errorf("X-A: %q", got)
	}
	if v, ok := resp.Header["empty"]; !ok || v[0] != "" || resp.Header.Get("missing") != "" {
		t.Errorf("header %q", resp.Header)
	}
}

// TestStream: a chunked answer is readable piece by piece while the
// server is still writing it, as etcd's watch and docker's /events need.
func TestStream(t *testing.T) {
	next := make(chan struct{})
	done := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; ; i++ {
			fmt.Fprintf(w, `{"event":%d}`+"\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-done:
				return
			}
		}
	}))
	defer ts.Close()
	defer close(done) // before ts.Close, which waits for the handler
	c := &Client{Host: "etcd", Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ts.Listener.Addr().String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := c.Do(ctx, &Request{Method: "POST", Target: "/v3/watch", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if te := resp.Header.Get("transfer-encoding"); te != "chunked" {
		t.Fatalf("Transfer-Encoding %q, want chunked", te)
	}
	dec := json.NewDecoder(resp.Body)
	for i := 0; i < 3; i++ {
		// The handler is blocked until next: the object must come through now.
		var ev struct{ Event int }
		if err := dec.Decode(&ev); err != nil || ev.Event != i {
			t.Fatalf("event %d: %+v, %v", i, ev, err)
		}
		next <- struct{}{}
	}
}

// TestStreamSplitChunk: the bytes of a chunk are returned as they come,
// not held back until the CRLF that ends the chunk arrives.
func TestStreamSplitChunk(t *testing.T) {
	next := make(chan struct{})
	s := newServer(t, "tcp", func(c net.Conn, _ *http.Request) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello")
		<-next
		io.WriteString(c, "\r\n1\r\n!\r\n0\r\n\r\n")
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := s.client().Do(ctx, &Request{Method: "GET", Target: "/events"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := make([]byte, 10)
	got := make(chan string)
	go func() {
		n, err := resp.Body.Read(p)
		got <- fmt.Sprint(string(p[:n]), err)
	}()
	select {
	case g := <-got:
		if g != "hello<nil>" {
			t.Errorf("first read: %s", g)
		}
	case <-time.After(wait):
		t.Fatal("the first chunk's bytes were held back until its CRLF")
	}
	close(next)
	if b, err := io.ReadAll(resp.Body); string(b) != "!" || err != nil {
		t.Errorf("rest: %q, %v", b, err)
	}
}

// TestKeepAlive: a body read to its end gives its connection back; one
// closed early closes it; MaxIdle, IdleTimeout and CloseIdle bound what
// is kept.
func TestKeepAlive(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	t.Run("closed early", func(t *testing.T) {
		s := newServer(t, "tcp", answers(ok, true))
		c := s.client()
		defer c.CloseIdle()
		resp, err := c.Do(context.Background(), &Request{Method: "GET", Target: "/"})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 2)
		if _, err := io.ReadFull(resp.Body, p); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		s.waitClosed(t, 1)
		if n, err := resp.Body.Read(p); n != 0 || err != io.EOF {
			t.Errorf("Read after Close: %d, %v; want 0, EOF", n, err)
		}
		do(t, c, &Request{Method: "GET", Target: "/"})
		if n := s.dials.Load(); n != 2 {
			t.Errorf("%d dials, want 2", n)
		}
	})
	for _, mi := range []struct{ max, kept int }{{1, 1}, {0, 2}} {
		t.Run(fmt.Sprintf("max idle %d", mi.max), func(t *testing.T) {
			maxIdle(t, mi.max, mi.kept)
		})
	}
	for _, it := range []struct {
		timeout, idle time.Duration
		reused        bool
	}{
		{time.Minute, 59 * time.Second, true},
		{time.Minute, 61 * time.Second, false},
		{0, 89 * time.Second, true},
		{0, 91 * time.Second, false},
	} {
		t.Run(fmt.Sprintf("idle %v of %v", it.idle, it.timeout), func(t *testing.T) {
			s := newServer(t, "tcp", answers(ok, true))
			c := s.client()
			c.IdleTimeout = it.timeout
			defer c.CloseIdle()
			do(t, c, &Request{Method: "GET", Target: "/"})
			c.mu.Lock()
			c.idle[0].since = time.Now().Add(-it.idle) // as if idle that long
			c.mu.Unlock()
			do(t, c, &Request{Method: "GET", Target: "/"})
			want := int32(2)
			if it.reused {
				want = 1
			} else {
				s.waitClosed(t, 1)
			}
			if n := s.dials.Load(); n != want {
				t.Errorf("%d dials, want %d", n, want)
			}
		})
	}
	t.Run("answer longer than its length", func(t *testing.T) {
		s := newServer(t, "tcp", answers("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 Extra\r\n\r\n", true))
		c := s.client()
		defer c.CloseIdle()
		for i := 0; i < 2; i++ {
			if resp, b := do(t, c, &Request{Method: "GET", Target: "/"}); resp.StatusCode != 200 || b != "ok" {
				t.Fatalf("answer %d: %d %q, want 200 \"ok\"", i, resp.StatusCode, b)
			}
		}
		if n := s.dials.Load(); n != 2 {
			t.Errorf("%d dials, want 2: a connection with bytes past the answer was reused", n)
		}
	})
	t.Run("close idle", func(t *testing.T) {
		s := newServer(t, "tcp", answers(ok, true))
		c := s.client()
		do(t, c, &Request{Method: "GET", Target: "/"})
		c.CloseIdle()
		s.waitClosed(t, 1)
	})
}

// maxIdle reads the bodies of kept+2 answers at once: kept connections
// stay idle, the others are closed.
func maxIdle(t *testing.T, max, kept int) {
	s := newServer(t, "tcp", answers("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true))
	c := s.client()
	c.MaxIdle = max
	defer c.CloseIdle()
	var bodies []io.ReadCloser
	for i := 0; i < kept+2; i++ {
		resp, err := c.Do(context.Background(), &Request{Method: "GET", Target: "/"})
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	for _, b := range bodies {
		if _, err := io.ReadAll(b); err != nil {
			t.Fatal(err)
		}
	}
	s.waitClosed(t, 2)
	c.mu.Lock()
	n := len(c.idle)
	c.mu.Unlock()
	if n != kept || s.dials.Load() != int32(kept+2) {
		t.Errorf("%d idle after %d dials, want %d after %d", n, s.dials.Load(), kept, kept+2)
	}
}

// TestServerClosedKept: a kept connection the server closed meanwhile
// is redialled for a GET; a POST that may have been acted on is not.
func TestServerClosedKept(t *testing.T) {
	t.Run("GET closed while idle", func(t *testing.T) {
		// The server answers as if it kept the connection, then drops it.
		s := newServer(t, "tcp", answers("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false))
		c := s.client()
		defer c.CloseIdle()
		do(t, c, &Request{Method: "GET", Target: "/1"})
		<-s.reqs
		resp, b := do(t, c, &Request{Method: "GET", Target: "/2"})
		if resp.StatusCode != 200 || b != "ok" || s.dials.Load() != 2 {
			t.Errorf("%d %q after %d dials, want 200 \"ok\" after 2", resp.StatusCode, b, s.dials.Load())
		}
	})
	t.Run("POST closed while idle", func(t *testing.T) {
		closed := make(chan struct{}, 10)
		s := newServer(t, "tcp", func(c net.Conn, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.Close()
			closed <- struct{}{}
			return false
		})
		c := s.client()
		defer c.CloseIdle()
		do(t, c, &Request{Method: "POST", Target: "/1"})
		<-closed
		resp, b := do(t, c, &Request{Method: "POST", Target: "/2", Body: []byte("x")})
		if resp.StatusCode != 200 || b != "ok" || s.dials.Load() != 2 {
			t.Errorf("%d %q after %d dials, want 200 \"ok\" after 2", resp.StatusCode, b, s.dials.Load())
		}
		if r1, r2 := <-s.reqs, <-s.reqs; r1 != "POST /1 " || r2 != "POST /2 x" || len(s.reqs) != 0 {
			t.Errorf("server saw %q, %q and %d more", r1, r2, len(s.reqs))
		}
	})
	t.Run("answer sent while idle", func(t *testing.T) {
		// Some servers write a 408 on a connection they time out.
		sent := make(chan struct{}, 10)
		s := newServer(t, "tcp", func(c net.Conn, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
			sent <- struct{}{}
			return true
		})
		c := s.client()
		defer c.CloseIdle()
		resp, err := c.Do(context.Background(), &Request{Method: "GET", Target: "/1"})
		if err != nil {
			t.Fatal(err)
		}
		<-sent
		if b, err := io.ReadAll(resp.Body); string(b) != "ok" || err != nil {
			t.Fatalf("first answer: %q, %v", b, err)
		}
		resp, b := do(t, c, &Request{Method: "GET", Target: "/2"})
		if resp.StatusCode != 200 || s.dials.Load() != 2 {
			t.Errorf("%d %q after %d dials: an answer sent while idle was taken for the next one's", resp.StatusCode, b, s.dials.Load())
		}
	})
	t.Run("GET read, not answered", func(t *testing.T) {
		var n atomic.Int32
		s := newServer(t, "tcp", func(c net.Conn, _ *http.Request) bool {
			if n.Add(1) == 2 {
				return false // the second request read, then the connection dropped
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		})
		c := s.client()
		defer c.CloseIdle()
		do(t, c, &Request{Method: "GET", Target: "/1"})
		resp, b := do(t, c, &Request{Method: "GET", Target: "/2"})
		if resp.StatusCode != 200 || b != "ok" || s.dials.Load() != 2 || n.Load() != 3 {
			t.Errorf("%d %q after %d dials and %d requests, want 200 \"ok\" after 2 and 3", resp.StatusCode, b, s.dials.Load(), n.Load())
		}
	})
	t.Run("POST read, not answered", func(t *testing.T) {
		var n atomic.Int32
		s := newServer(t, "tcp", func(c net.Conn, _ *http.Request) bool {
			if n.Add(1) == 2 {
				return false
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		})
		c := s.client()
		defer c.CloseIdle()
		do(t, c, &Request{Method: "POST", Target: "/1"})
		<-s.reqs
		_, err := c.Do(context.Background(), &Request{Method: "POST", Target: "/v3/kv/txn", Body: []byte("once")})
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "closed the connection without an answer") {
			t.Fatalf("Do: %v, want an io.ErrUnexpectedEOF saying no answer came", err)
		}
		if got := <-s.reqs; got != "POST /v3/kv/txn once" {
			t.Errorf("server saw %q", got)
		}
		if d := s.dials.Load(); d != 1 || n.Load() != 2 {
			t.Errorf("%d dials, %d requests: the POST was sent again (%v)", d, n.Load(), err)
		}
	})
}

// TestCancel: a done ctx ends Do and Read promptly with ctx.Err(), and
// a done ctx sends nothing.
func TestCancel(t *testing.T) {
	t.Run("waiting for the head", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		s := newServer(t, "tcp", func(net.Conn, *http.Request) bool { <-release; return false })
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() {
			_, err := s.client().Do(ctx, &Request{Method: "GET", Target: "/"})
			errc <- err
		}()
		<-s.reqs
		cancel()
		select {
		case err := <-errc:
			if err != context.Canceled {
				t.Errorf("Do: %v, want context.Canceled as is", err)
			}
		case <-time.After(wait):
			t.Fatal("Do did not return after cancel")
		}
	})
	t.Run("reading the body", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		s := newServer(t, "tcp", func(c net.Conn, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n")
			<-release
			return false
		})
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := s.client().Do(ctx, &Request{Method: "POST", Target: "/watch"})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := make([]byte, 10)
		if n, err := resp.Body.Read(p); string(p[:n]) != "hi" || err != nil {
			t.Fatalf("Read: %q, %v", p[:n], err)
		}
		errc := make(chan error)
		go func() {
			_, err := resp.Body.Read(p)
			errc <- err
		}()
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Read: %v, want context.Canceled", err)
			}
		case <-time.After(wait):
			t.Fatal("Read did not return after cancel")
		}
	})
	t.Run("body closed while read", func(t *testing.T) {
		// How a watch is stopped: Close from another goroutine.
		release := make(chan struct{})
		defer close(release)
		s := newServer(t, "unix", func(c net.Conn, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			<-release
			return false
		})
		resp, err := s.client().Do(context.Background(), &Request{Method: "GET", Target: "/events"})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error)
		go func() {
			_, err := resp.Body.Read(make([]byte, 10))
			errc <- err
		}()
		resp.Body.Close()
		select {
		case err := <-errc:
			if err == nil {
				t.Error("Read after Close: no error")
			}
		case <-time.After(wait):
			t.Fatal("Read did not return after Close")
		}
	})
	t.Run("dialling", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		dialling := make(chan struct{})
		c := &Client{Dial: func(ctx context.Context) (net.Conn, error) {
			close(dialling)
			<-ctx.Done()
			return nil, fmt.Errorf("dial: %w", ctx.Err())
		}}
		errc := make(chan error)
		go func() {
			_, err := c.Do(ctx, &Request{Method: "GET", Target: "/"})
			errc <- err
		}()
		<-dialling
		cancel()
		if err := <-errc; err != context.Canceled {
			t.Errorf("Do: %v, want context.Canceled as is", err)
		}
	})
	t.Run("already done", func(t *testing.T) {
		s := newServer(t, "tcp", answers("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true))
		c := s.client()
		do(t, c, &Request{Method: "GET", Target: "/"})
		<-s.reqs
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Do(ctx, &Request{Method: "POST", Target: "/"}); err != context.Canceled {
			t.Errorf("Do: %v, want context.Canceled", err)
		}
		c.CloseIdle()
		s.waitClosed(t, 1)
		if len(s.reqs) != 0 || s.dials.Load() != 1 {
			t.Errorf("a request with a done ctx was sent")
		}
	})
	t.Run("dial refused", func(t *testing.T) {
		ln := listen(t, "tcp")
		ln.Close()
		c := &Client{Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		}}
		_, err := c.Do(context.Background(), &Request{Method: "GET", Target: "/"})
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("Do: %v (%T), want a *net.OpError with Op dial", err, err)
		}
	})
}

// TestHostile: a malformed or hostile answer is a clear error, from Do or
// from reading the body, with no hang and the connection closed.
func TestHostile(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\n"
	tests := []struct {
		name    string
		answer  string
		close   bool   // the server closes after answering
		doErr   string // in Do's error; "" for none
		bodyErr string // in the body's Read error
	}{
		{"head too long", ok + "X: " + strings.Repeat("a", maxHeadBytes) + "\r\n\r\n", false, "longer than 1048576 bytes", ""},
		{"interim heads too long", strings.Repeat("HTTP/1.1 100 Continue\r\n"+strings.Repeat("X: y\r\n", 100)+"\r\n", 2000), false, "longer than 1048576 bytes", ""},
		{"too many fields", ok + strings.Repeat("X: y\r\n", maxHeadFields+1) + "\r\n", false, "more than 1000 header fields", ""},
		{"status: version", "HTTP/2 200 OK\r\n\r\n", false, "malformed status line", ""},
		{"status: code", "HTTP/1.1 2x0 OK\r\n\r\n", false, "malformed status line", ""},
		{"status: short code", "HTTP/1.1 20 OK\r\n\r\n", false, "malformed status line", ""},
		{"status: below 100", "HTTP/1.1 099 Low\r\n\r\n", false, "malformed status line", ""},
		{"status: not http", "SSH-2.0-OpenSSH_9.6\r\n", false, "malformed status line", ""},
		{"status: empty", "\r\n\r\n", false, "malformed status line", ""},
		{"field: no colon", ok + "NoColon\r\n\r\n", false, "malformed header field", ""},
		{"field: folded", ok + "X: a\r\n folded\r\n\r\n", false, "malformed header field", ""},
		{"field: space in name", ok + "Bad Name: x\r\n\r\n", false, "malformed header field", ""},
		{"field: CR in value", ok + "X: a\rContent-Length: 0\r\n\r\n", false, "malformed header field", ""},
		{"field: NUL in value", ok + "X: a\x00b\r\n\r\n", false, "malformed header field", ""},
		{"field: empty name", ok + ": x\r\n\r\n", false, "malformed header field", ""},
		{"content-length: not a number", ok + "Content-Length: abc\r\n\r\n", false, "invalid Content-Length", ""},
		{"content-length: negative", ok + "Content-Length: -1\r\n\r\n", false, "invalid Content-Length", ""},
		{"content-length: sign", ok + "Content-Length: +5\r\n\r\nhello", false, "invalid Content-Length", ""},
		{"content-length: empty", ok + "Content-Length:\r\n\r\n", false, "invalid Content-Length", ""},
		{"content-length: overflow", ok + "Content-Length: 99999999999999999999\r\n\r\n", false, "invalid Content-Length", ""},
		{"content-length: conflicting list", ok + "Content-Length: 5, 6\r\n\r\nhello!", false, "invalid Content-Length", ""},
		{"content-length: conflicting fields", ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", false, "invalid Content-Length", ""},
		{"transfer-encoding: gzip", ok + "Transfer-Encoding: gzip\r\n\r\n", false, "unsupported Transfer-Encoding", ""},
		{"transfer-encoding: chunked, gzip", ok + "Transfer-Encoding: chunked, gzip\r\n\r\n", false, "unsupported Transfer-Encoding", ""},
		{"transfer-encoding: gzip, chunked", ok + "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n", false, "unsupported Transfer-Encoding", ""},
		{"transfer-encoding: twice chunked", ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", false, "unsupported Transfer-Encoding", ""},
		{"transfer-encoding in http/1.0", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, "Transfer-Encoding in an HTTP/1.0 answer", ""},
		{"switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false, "switched protocols", ""},
		{"truncated head", ok + "Content-Le", true, "unexpected EOF", ""},
		{"truncated status", "HTTP/1.1 20", true, "unexpected EOF", ""},
		{"chunk size: not hex", ok + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", false, "", "malformed chunk size"},
		{"chunk size: negative", ok + "Transfer-Encoding: chunked\r\n\r\n-1\r\n", false, "", "malformed chunk size"},
		{"chunk size: sign", ok + "Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", false, "", "malformed chunk size"},
		{"chunk size: minus zero", ok + "Transfer-Encoding: chunked\r\n\r\n-0\r\n\r\n", false, "", "malformed chunk size"},
		{"chunk size: empty", ok + "Transfer-Encoding: chunked\r\n\r\n\r\n", false, "", "malformed chunk size"},
		{"chunk size: overflow", ok + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", false, "", "malformed chunk size"},
		{"chunk longer than its size", ok + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", false, "", "malformed chunk end"},
		{"truncated chunk size", ok + "Transfer-Encoding: chunked\r\n\r\n5", true, "", "unexpected EOF"},
		{"truncated chunk", ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel", true, "", "unexpected EOF"},
		{"truncated before chunk end", ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello", true, "", "unexpected EOF"},
		{"truncated before last chunk", ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true, "", "unexpected EOF"},
		{"truncated trailer", ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n", true, "", "unexpected EOF"},
		{"truncated content-length body", ok + "Content-Length: 10\r\n\r\nhello", true, "", "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, "tcp", answers(tt.answer, !tt.close))
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			resp, err := s.client().Do(ctx, &Request{Method: "GET", Target: "/"})
			if ctx.Err() != nil {
				t.Fatal("Do hung")
			}
			if tt.doErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.doErr) {
					t.Fatalf("Do: %v, want an error with %q", err, tt.doErr)
				}
				if !tt.close {
					s.waitClosed(t, 1)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			b, err := io.ReadAll(resp.Body)
			if ctx.Err() != nil {
				t.Fatal("reading the body hung")
			}
			if err == nil || !strings.Contains(err.Error(), tt.bodyErr) {
				t.Fatalf("reading the body: %q, %v; want an error with %q", b, err, tt.bodyErr)
			}
			if tt.bodyErr == "unexpected EOF" && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the body: %v, want io.ErrUnexpectedEOF", err)
			}
			if !tt.close {
				s.waitClosed(t, 1)
			}
		})
	}
}

// TestInvalidRequest: a request that would not parse as the caller wrote
// it is refused before anything is dialled or sent.
func TestInvalidRequest(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		host string
	}{
		{"target without slash", Request{Method: "GET", Target: "info"}, "h"},
		{"target empty", Request{Method: "GET", Target: ""}, "h"},
		{"target absolute", Request{Method: "GET", Target: "http://x/"}, "h"},
		{"target with space", Request{Method: "GET", Target: "/a b"}, "h"},
		{"target with CRLF", Request{Method: "GET", Target: "/a\r\nX: y"}, "h"},
		{"target with LF", Request{Method: "GET", Target: "/a\n"}, "h"},
		{"target not ascii", Request{Method: "GET", Target: "/é"}, "h"},
		{"method empty", Request{Method: "", Target: "/"}, "h"},
		{"method with space", Request{Method: "GE T", Target: "/"}, "h"},
		{"method with slash", Request{Method: "GET/", Target: "/"}, "h"},
		{"header name with space", Request{Method: "GET", Target: "/", Header: map[string]string{"X Y": "1"}}, "h"},
		{"header name with colon", Request{Method: "GET", Target: "/", Header: map[string]string{"X:Y": "1"}}, "h"},
		{"header name empty", Request{Method: "GET", Target: "/", Header: map[string]string{"": "1"}}, "h"},
		{"header value with CRLF", Request{Method: "GET", Target: "/", Header: map[string]string{"X": "1\r\nY: 2"}}, "h"},
		{"header value with LF", Request{Method: "GET", Target: "/", Header: map[string]string{"X": "1\n"}}, "h"},
		{"header value with CR", Request{Method: "GET", Target: "/", Header: map[string]string{"X": "1\r"}}, "h"},
		{"header Host", Request{Method: "GET", Target: "/", Header: map[string]string{"host": "other"}}, "h"},
		{"header Content-Length", Request{Method: "POST", Target: "/", Header: map[string]string{"Content-Length": "0"}}, "h"},
		{"header Transfer-Encoding", Request{Method: "POST", Target: "/", Header: map[string]string{"Transfer-Encoding": "chunked"}, Body: []byte("0\r\n\r\n")}, "h"},
		{"host with CRLF", Request{Method: "GET", Target: "/"}, "h\r\nX: y"},
		{"host with space", Request{Method: "GET", Target: "/"}, "h y"},
	}
	for _, tt := range tests {
		var dials int
		c := &Client{Host: tt.host, Dial: func(context.Context) (net.Conn, error) {
			dials++
			return nil, errors.New("dialled")
		}}
		_, err := c.Do(context.Background(), &tt.req)
		if err == nil || !strings.HasPrefix(err.Error(), "httpc: invalid ") || dials != 0 {
			t.Errorf("%s: Do: %v after %d dials, want an httpc: invalid error before any", tt.name, err, dials)
		}
	}
}

// TestConcurrent: Do calls from many goroutines share one Client's pool
// (run with -race).
func TestConcurrent(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}))
	defer ts.Close()
	var dials atomic.Int32
	c := &Client{Host: "x", MaxIdle: 3, Dial: func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ts.Listener.Addr().String())
	}}
	defer c.CloseIdle()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				want := fmt.Sprintf("%d/%d", g, i)
				resp, err := c.Do(context.Background(), &Request{Method: "POST", Target: "/", Body: []byte(want)})
				if err != nil {
					errc <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					errc <- fmt.Errorf("got %q, %v; want %q", b, err, want)
					return
				}
				if i%5 == 4 {
					c.CloseIdle()
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if n := dials.Load(); n >= 200 {
		t.Errorf("%d dials for 200 requests: no connection was reused", n)
	}
}

// FuzzReadHead: no answer makes readHead or the body readers panic, and
// a head is never read past its budget.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1, 1\n\nx",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nto the end",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		br := bufio.NewReaderSize(strings.NewReader(s), 16<<10)
		resp, _, n, chunked, err := readHead(br, method)
		if err != nil {
			return
		}
		if resp == nil || resp.StatusCode < 200 || resp.StatusCode > 999 || resp.Header == nil {
			t.Fatalf("readHead(%q): %+v", s, resp)
		}
		var r io.Reader = br
		switch {
		case chunked:
			r = &chunkedReader{br: br}
		case n >= 0:
			r = &lengthReader{br: br, n: n}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return
		}
		if !chunked && n >= 0 && int64(len(b)) != n {
			t.Fatalf("body of %d bytes for Content-Length %d", len(b), n)
		}
		// Where net/http reads the same answer whole, it reads the same body.
		if strings.HasPrefix(s, "HTTP/1.1 1") || strings.HasPrefix(s, "HTTP/1.0 1") {
			return // net/http returns interim answers; httpc skips them
		}
		hr, err := http.ReadResponse(bufio.NewReader(strings.NewReader(s)), &http.Request{Method: method})
		if err != nil {
			return
		}
		hb, err := io.ReadAll(hr.Body)
		if err == nil && hr.StatusCode == resp.StatusCode && !bytes.Equal(hb, b) {
			t.Fatalf("answer %q: body %q, net/http reads %q", s, b, hb)
		}
	})
}

// BenchmarkDo: one GET and its answer on a kept unix socket connection.
func BenchmarkDo(b *testing.B) {
	s := newServer(b, "unix", answers("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true))
	c := s.client()
	defer c.CloseIdle()
	ctx := context.Background()
	for b.Loop() {
		resp, err := c.Do(ctx, &Request{Method: "GET", Target: "/_ping"})
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := s.dials.Load(); n != 1 {
		b.Errorf("%d dials", n)
	}
}
