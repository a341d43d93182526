// Package httpc is the HTTP/1.1 client ccci speaks its two JSON APIs
// with: the Docker Engine API (on its unix socket, or plain tcp) and
// etcd's v3 gateway. It does what those need and no more: a request with
// a whole body; an answer with a Content-Length, chunked, or read to the
// end of the connection, streamed to the caller; idle connections kept
// for the next request; a request and its answer cancelled by their
// context.
//
// No TLS, proxies, redirects, compression or HTTP/2. net/http and
// crypto/tls, linked for the same two APIs, cost every ccci call about
// 1.8 ms of start, the ~0.2x of flock(1) (docs/performance.md).
package httpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client sends requests to one server. It is safe for concurrent use.
type Client struct {
	// Dial connects to the server.
	Dial func(ctx context.Context) (net.Conn, error)
	// Host is the Host header of every request: the server's host:port,
	// or a name for a unix socket ("docker").
	Host string
	// MaxIdle is how many idle connections are kept (0: 2).
	MaxIdle int
	// IdleTimeout closes a connection idle this long (0: 90 s).
	IdleTimeout time.Duration

	mu   sync.Mutex
	idle []*conn // most recently used last
}

// Request is one request. Target is the request-target: the path and
// query, already escaped.
type Request struct {
	Method string
	Target string
	Header map[string]string // sent in name order; not Host, Content-Length or Transfer-Encoding
	Body   []byte            // nil: none (a POST or PUT still says Content-Length: 0)
}

// Response is an answer whose head has been read. The caller reads Body
// and must Close it: a body read to its end gives the connection back for
// the next request, one closed early closes it.
type Response struct {
	StatusCode int
	Status     string // "404 Not Found", as the server wrote it
	Header     Header
	Body       io.ReadCloser
}

// Header holds the fields of an answer's head, names lower-cased.
type Header map[string][]string

// Get returns the first value of the field name (any case), or "".
func (h Header) Get(name string) string {
	if v := h[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Limits on what a server may send before the body.
const (
	maxHeadBytes  = 1 << 20
	maxHeadFields = 1000
)

// conn is a connection with the reader its answers are read through.
type conn struct {
	net.Conn
	br    *bufio.Reader
	since time.Time // idle since
}

// Do sends r and reads the head of the answer. A transport failure is
// returned as the dialer or the connection reported it (a refused dial is
// a *net.OpError with Op "dial"); once ctx is done, ctx.Err() is returned
// as is. A kept connection the server closed or wrote on while idle is
// not used. A request on one the server closes as the request goes out
// is sent again on another one when nothing of it can have been acted
// on: it was not written, or it was a GET or HEAD and no answer started.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	msg, err := c.encode(r)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cn, reused, err := c.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		resp, resend, err := c.roundTrip(ctx, cn, msg, r.Method)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !reused || !resend {
			return nil, err
		}
	}
}

// CloseIdle closes the connections kept for later requests.
func (c *Client) CloseIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.Close()
	}
}

// encode writes the request's head and body as they go on the wire.
func (c *Client) encode(r *Request) ([]byte, error) {
	if !token(r.Method) {
		return nil, fmt.Errorf("httpc: invalid method %q", r.Method)
	}
	if !strings.HasPrefix(r.Target, "/") || strings.ContainsFunc(r.Target, notVisible) {
		return nil, fmt.Errorf("httpc: invalid request target %q", r.Target)
	}
	if strings.ContainsFunc(c.Host, notVisible) {
		return nil, fmt.Errorf("httpc: invalid host %q", c.Host)
	}
	var b strings.Builder
	b.Grow(128 + len(r.Target) + len(r.Body))
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ccci\r\n", r.Method, r.Target, c.Host)
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		v := r.Header[k]
		if !token(k) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("httpc: invalid header field %q: %q", k, v)
		}
		// Written here, from Host and Body: a second one would frame the
		// request or name its server differently for the server.
		switch strings.ToLower(k) {
		case "host", "content-length", "transfer-encoding":
			return nil, fmt.Errorf("httpc: invalid header field %q: set by httpc", k)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if r.Body != nil || r.Method == "POST" || r.Method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return []byte(b.String()), nil
}

// token reports whether s is an HTTP token (a method or a field name).
func token(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return notVisible(r) || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
}

// notVisible reports whether r may not appear in a request line or Host.
func notVisible(r rune) bool { return r <= ' ' || r >= 0x7f }

// get returns a kept connection young enough, or a new one.
func (c *Client) get(ctx context.Context) (cn *conn, reused bool, err error) {
	timeout := c.IdleTimeout
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	for {
		c.mu.Lock()
		if len(c.idle) == 0 {
			c.mu.Unlock()
			break
		}
		cn = c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		c.mu.Unlock()
		if time.Since(cn.since) < timeout && cn.quiet() {
			return cn, true, nil
		}
		cn.Close()
	}
	nc, err := c.Dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &conn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10)}, false, nil
}

// put keeps cn for the next request, closing the oldest kept beyond
// MaxIdle.
func (c *Client) put(cn *conn) {
	limit := c.MaxIdle
	if limit <= 0 {
		limit = 2
	}
	cn.since = time.Now()
	c.mu.Lock()
	c.idle = append(c.idle, cn)
	var drop []*conn
	if n := len(c.idle) - limit; n > 0 {
		drop = slices.Clone(c.idle[:n])
		c.idle = slices.Delete(c.idle, 0, n)
	}
	c.mu.Unlock()
	for _, d := range drop {
		d.Close()
	}
}

// roundTrip writes msg on cn and reads the head of the answer. On error
// cn is closed, and resend says whether nothing of the request can have
// been acted on.
func (c *Client) roundTrip(ctx context.Context, cn *conn, msg []byte, method string) (resp *Response, resend bool, err error) {
	// Cancelling closes the connection: a blocked write or read returns.
	stop := context.AfterFunc(ctx, func() { cn.Close() })
	defer func() {
		if err != nil {
			stop()
			cn.Close()
		}
	}()
	if _, err := cn.Write(msg); err != nil {
		return nil, true, err
	}
	if _, err := cn.br.Peek(1); err != nil {
		// The server closed a kept connection as the request went out.
		if err == io.EOF {
			// Not a bare io.EOF, which callers take for a normal end.
			err = fmt.Errorf("the server closed the connection without an answer: %w", io.ErrUnexpectedEOF)
		}
		return nil, method == "GET" || method == "HEAD", err
	}
	resp, keep, n, chunked, err := readHead(cn.br, method)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, fmt.Errorf("reading the answer: %w", err)
	}
	b := &body{c: c, cn: cn, ctx: ctx, stop: stop, keep: keep}
	switch {
	case chunked:
		b.r = &chunkedReader{br: cn.br}
	case n >= 0:
		b.r = &lengthReader{br: cn.br, n: n}
	default:
		b.r, b.keep = cn.br, false // to the end of the connection
	}
	if n == 0 {
		b.finish(true) // nothing to read: the connection is free now
	}
	resp.Body = b
	return resp, false, nil
}

// readHead reads the status line and the header fields. n is the body's
// length: -1 when it runs to the end of the connection (or is chunked).
func readHead(br *bufio.Reader, method string) (resp *Response, keep bool, n int64, chunked bool, err error) {
	budget := maxHeadBytes
	var line string
	var proto10 bool
	for {
		if line, err = readLine(br, &budget); err != nil {
			return
		}
		resp, proto10, err = parseStatus(line)
		if err != nil {
			return
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			break
		}
		// 1xx: an interim answer; its head is skipped.
		for line != "" {
			if line, err = readLine(br, &budget); err != nil {
				return
			}
		}
	}
	if resp.StatusCode == 101 {
		return nil, false, 0, false, errors.New("the server switched protocols")
	}
	h := Header{}
	for fields := 0; ; fields++ {
		if line, err = readLine(br, &budget); err != nil {
			return
		}
		if line == "" {
			break
		}
		if fields == maxHeadFields {
			return nil, false, 0, false, fmt.Errorf("more than %d header fields", maxHeadFields)
		}
		k, v, ok := strings.Cut(line, ":")
		// A CR or NUL in a value (RFC 9112 section 5): some parsers end
		// the line there, others do not.
		if !ok || !token(k) || strings.ContainsAny(v, "\r\x00") {
			return nil, false, 0, false, fmt.Errorf("malformed header field %q", trunc(line))
		}
		k = strings.ToLower(k)
		h[k] = append(h[k], strings.Trim(v, " \t"))
	}
	resp.Header = h
	// HTTP/1.1 keeps the connection unless told not to; 1.0 only if told to.
	keep = !proto10
	for _, v := range h["connection"] {
		for _, o := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(o)) {
			case "close":
				keep = false
			case "keep-alive":
				keep = keep || proto10
			}
		}
	}
	if method == "HEAD" || resp.StatusCode == 204 || resp.StatusCode == 304 {
		return resp, keep, 0, false, nil
	}
	if te := h["transfer-encoding"]; len(te) > 0 {
		// RFC 9112 section 6.1: framing that cannot be trusted. net/http
		// ignores the field and reads another body.
		if proto10 {
			return nil, false, 0, false, errors.New("Transfer-Encoding in an HTTP/1.0 answer")
		}
		// chunked alone: a coding under it (gzip) would reach the caller
		// still coded.
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return nil, false, 0, false, fmt.Errorf("unsupported Transfer-Encoding %q", trunc(strings.Join(te, ", ")))
		}
		return resp, keep, -1, true, nil
	}
	n = -1
	for _, v := range h["content-length"] {
		for _, s := range strings.Split(v, ",") {
			m, perr := parseSize(strings.TrimSpace(s), 10)
			if perr != nil || n >= 0 && m != n {
				return nil, false, 0, false, fmt.Errorf("invalid Content-Length %q", trunc(v))
			}
			n = m
		}
	}
	if n < 0 {
		keep = false
	}
	return resp, keep, n, false, nil
}

// readLine reads one line of the head, without its CRLF (or LF),
// charging it to budget.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		*budget -= len(frag)
		if *budget < 0 {
			return "", fmt.Errorf("answer head longer than %d bytes", maxHeadBytes)
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return string(line), nil
	}
}

// parseStatus parses "HTTP/1.1 200 OK".
func parseStatus(line string) (resp *Response, proto10 bool, err error) {
	proto, rest, _ := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if proto != "HTTP/1.1" && proto != "HTTP/1.0" || err != nil || len(code) != 3 || n < 100 {
		return nil, false, fmt.Errorf("malformed status line %q", trunc(line))
	}
	return &Response{StatusCode: n, Status: strings.TrimSpace(code + " " + reason)}, proto == "HTTP/1.0", nil
}

func trunc(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// body is an answer's body. Reading it to its end gives the connection
// back; closing it before closes the connection.
type body struct {
	c      *Client
	cn     *conn
	ctx    context.Context
	stop   func() bool
	r      io.Reader
	keep   bool
	once   sync.Once
	closed atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
	}
	return n, err
}

func (b *body) Close() error {
	b.finish(false)
	return nil
}

// finish ends the body once: complete, on a connection that may be kept
// and was not cancelled, it goes back to the client; else it is closed.
func (b *body) finish(complete bool) {
	b.once.Do(func() {
		b.closed.Store(true)
		if b.stop() && complete && b.keep {
			b.c.put(b.cn)
			return
		}
		b.cn.Close()
	})
}

// lengthReader reads a body of n bytes.
type lengthReader struct {
	br *bufio.Reader
	n  int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.br.Read(p)
	l.n -= int64(n)
	if err == io.EOF && l.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && l.n == 0 {
		err = io.EOF
	}
	return n, err
}

// chunkedReader reads a chunked body (RFC 9112 section 7.1); chunk
// extensions and trailer fields are read and dropped.
type chunkedReader struct {
	br   *bufio.Reader
	n    int64 // left in the current chunk
	end  bool  // the current chunk's data is read, its CRLF not yet
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.n == 0 {
		if c.end {
			// Read only now, so that the chunk's data was returned as it
			// came (TestStreamSplitChunk).
			budget := 2
			line, err := readLine(c.br, &budget)
			if err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			if err != nil || line != "" {
				return 0, errors.New("malformed chunk end")
			}
			c.end = false
		}
		budget := maxHeadBytes
		line, err := readLine(c.br, &budget)
		if err != nil {
			return 0, unexpected(err)
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := parseSize(strings.TrimSpace(size), 16)
		if err != nil {
			return 0, fmt.Errorf("malformed chunk size %q", trunc(line))
		}
		if n == 0 { // the last chunk; then the trailer, to its empty line
			for {
				line, err := readLine(c.br, &budget)
				if err != nil {
					return 0, unexpected(err)
				}
				if line == "" {
					c.done = true
					return 0, io.EOF
				}
			}
		}
		c.n = n
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.br.Read(p)
	c.n -= int64(n)
	if err != nil {
		return n, unexpected(err)
	}
	c.end = c.n == 0
	return n, nil
}

// parseSize parses a Content-Length (base 10) or chunk size (16): digits
// only, where strconv.ParseInt would take a sign ("+5", "-0").
func parseSize(s string, base int) (int64, error) {
	n, err := strconv.ParseUint(s, base, 63)
	return int64(n), err
}

// unexpected turns the end of the connection inside a body into an error.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
