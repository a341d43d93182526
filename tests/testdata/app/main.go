// Command app is the test app the swarm tests deploy: a static HTTP server
// in a FROM scratch image, so the test bed needs no registry.
//
// Synopsis:
//
//	app [-addr :8080] [-data /data] [-secret /run/secrets/db_password]
//	app -healthcheck [-addr :8080]
//	app -get URL
//
// It appends a line to DATA/hits on start and on each request (so a test sees
// its volume written), reads the secret file if present (reported on /), and
// answers /health and /cat?path=FILE (the file's content: what a test reads
// of a rendered config or a mounted secret inside the running container).
// The environment picks misbehaviour:
//
//	CRASH=1          exit 1 at start (a crash loop under restart_policy any)
//	IGNORE_TERM=1    ignore SIGTERM, so a stop takes the whole stop-grace
//	SLOW_START=5s    wait that long before listening (health: starting)
//	EXIT_AFTER=3s    exit 0 after that long (a container briefly using a volume)
//
// -healthcheck does GET /health on localhost and exits 0 or 1: a scratch
// image has no shell or curl for the compose healthcheck to call. -get
// prints URL's body and exits 0 on 200: the tests' HTTP client, so they
// need no curl either.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	data := flag.String("data", "/data", "volume directory to write hits to")
	secret := flag.String("secret", "/run/secrets/db_password", "secret file to read")
	health := flag.Bool("healthcheck", false, "GET /health on localhost and exit 0 or 1")
	get := flag.String("get", "", "GET this URL, print the body, exit 0 on 200")
	flag.Parse()
	if *health {
		os.Exit(healthcheck(*addr))
	}
	if *get != "" {
		os.Exit(fetch(*get))
	}
	if os.Getenv("CRASH") == "1" {
		fmt.Fprintln(os.Stderr, "app: CRASH=1: exiting 1")
		os.Exit(1)
	}
	if os.Getenv("IGNORE_TERM") == "1" {
		// Stays ignored until SIGKILL: what the stop-grace path must handle.
		signal.Ignore(syscall.SIGTERM)
	}
	if d, err := time.ParseDuration(os.Getenv("SLOW_START")); err == nil {
		time.Sleep(d)
	}
	hit(*data, "start")
	if d, err := time.ParseDuration(os.Getenv("EXIT_AFTER")); err == nil {
		time.AfterFunc(d, func() { os.Exit(0) })
	}
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/cat", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		hit(*data, r.URL.Path)
		s := "absent"
		if b, err := os.ReadFile(*secret); err == nil {
			s = fmt.Sprintf("%d bytes", len(b))
		}
		fmt.Fprintf(w, "domain=%s secret=%s\n", os.Getenv("DOMAIN"), s)
	})
	fmt.Fprintln(os.Stderr, "app: listening on", *addr)
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

// hit appends one line to dir/hits; failures are reported, not fatal, so a
// recipe without a volume still runs.
func hit(dir, what string) {
	f, err := os.OpenFile(filepath.Join(dir, "hits"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), what)
}

func healthcheck(addr string) int {
	_, port, _ := cutLast(addr, ':')
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/health")
	if err != nil {
		fmt.Fprintln(os.Stderr, "app: healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "app: healthcheck:", resp.Status)
		return 1
	}
	return 0
}

func fetch(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app: get:", err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "app: get:", resp.Status)
		return 1
	}
	return 0
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}
