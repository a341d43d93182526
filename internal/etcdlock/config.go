package etcdlock

import (
	"fmt"
	"net"
	"strings"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// Config is what the backend needs to know; ConfigFromEnv reads it.
type Config struct {
	Endpoints []string      // CCCI_ETCD_ENDPOINTS, comma-separated
	Prefix    string        // CCCI_ETCD_PREFIX, default /ccci/lock/
	TTL       time.Duration // CCCI_ETCD_TTL, lease TTL, default 10s, whole seconds, at least 2s
	Timeout   time.Duration // CCCI_ETCD_TIMEOUT, bound of each request outside the wait, default 5s
	KeepAlive time.Duration // CCCI_ETCD_KEEPALIVE, TCP keep-alive interval to notice dead connections, default 5s
	Margin    time.Duration // CCCI_ETCD_MARGIN, the command ends this long before the lease could expire, default TTL/4
}

// Defaults. The client renews the lease every TTL/3 and gives up Margin
// (TTL/4 by default) before the TTL has passed since the last renewal it
// sent: a 10s TTL survives two lost renewals; a dead holder's lock passes on
// within the TTL.
const (
	DefaultPrefix    = "/ccci/lock/"
	DefaultTTL       = 10 * time.Second
	DefaultTimeout   = 5 * time.Second
	DefaultKeepAlive = 5 * time.Second
	minTTL           = 2 * time.Second // etcd's own minimum with default election timeouts
)

// ConfigFromEnv reads the CCCI_ETCD_* variables.
func ConfigFromEnv(env *applet.Env) (Config, error) {
	c := Config{Prefix: env.GetenvDefault("CCCI_ETCD_PREFIX", DefaultPrefix)}
	for _, e := range strings.Split(env.Getenv("CCCI_ETCD_ENDPOINTS"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			if _, err := hostPort(e); err != nil {
				return c, fmt.Errorf("etcd lock backend: CCCI_ETCD_ENDPOINTS: %v", err)
			}
			c.Endpoints = append(c.Endpoints, e)
		}
	}
	if len(c.Endpoints) == 0 {
		return c, fmt.Errorf("etcd lock backend: CCCI_ETCD_ENDPOINTS is not set (comma-separated, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379)")
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") {
		return c, fmt.Errorf("etcd lock backend: CCCI_ETCD_PREFIX %q: want a key prefix starting and ending with /", c.Prefix)
	}
	for _, d := range []struct {
		key string
		def time.Duration
		dst *time.Duration
	}{
		{"CCCI_ETCD_TTL", DefaultTTL, &c.TTL},
		{"CCCI_ETCD_TIMEOUT", DefaultTimeout, &c.Timeout},
		{"CCCI_ETCD_KEEPALIVE", DefaultKeepAlive, &c.KeepAlive},
		{"CCCI_ETCD_MARGIN", 0, &c.Margin},
	} {
		*d.dst = d.def
		if v := env.Getenv(d.key); v != "" {
			dur, err := applet.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("etcd lock backend: %s: %v", d.key, err)
			}
			if dur <= 0 {
				return c, fmt.Errorf("etcd lock backend: %s=%s: want a positive duration", d.key, v)
			}
			*d.dst = dur
		}
	}
	if c.TTL < minTTL {
		return c, fmt.Errorf("etcd lock backend: CCCI_ETCD_TTL=%v: at least %v", c.TTL, minTTL)
	}
	if c.Margin == 0 {
		c.Margin = time.Duration(c.ttlSeconds()) * time.Second / 4
	}
	// Past TTL/2 the holder would give up before its second renewal.
	if max := time.Duration(c.ttlSeconds()) * time.Second / 2; c.Margin > max {
		return c, fmt.Errorf("etcd lock backend: CCCI_ETCD_MARGIN=%v: at most half the TTL (%v)", c.Margin, max)
	}
	return c, nil
}

// hostPort is the host:port of an endpoint written as etcdctl takes it,
// http://host:port or host:port. etcd's TLS (https://) is not spoken.
func hostPort(ep string) (string, error) {
	hp, ok := strings.CutPrefix(ep, "http://")
	if !ok && strings.Contains(ep, "://") {
		return "", fmt.Errorf("%s: want http://host:port or host:port (TLS is not supported)", ep)
	}
	hp = strings.TrimSuffix(hp, "/")
	if h, p, err := net.SplitHostPort(hp); err != nil || h == "" || p == "" || strings.ContainsAny(hp, "/?#@ ") {
		return "", fmt.Errorf("%s: want http://host:port or host:port", ep)
	}
	return hp, nil
}

// ttlSeconds is the lease TTL etcd takes: whole seconds, rounded up.
func (c Config) ttlSeconds() int {
	return int((c.TTL + time.Second - 1) / time.Second)
}
