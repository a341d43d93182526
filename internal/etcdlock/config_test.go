package etcdlock

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

func TestConfigFromEnv(t *testing.T) {
	ep := "CCCI_ETCD_ENDPOINTS=http://a:1, http://b:2,"
	tests := []struct {
		env     []string
		want    Config
		wantErr string
	}{
		{[]string{ep}, Config{[]string{"http://a:1", "http://b:2"}, DefaultPrefix, DefaultTTL, DefaultTimeout, DefaultKeepAlive, 2500 * time.Millisecond}, ""},
		{[]string{ep, "CCCI_ETCD_TTL=30", "CCCI_ETCD_TIMEOUT=1.5", "CCCI_ETCD_PREFIX=/x/"}, Config{[]string{"http://a:1", "http://b:2"}, "/x/", 30 * time.Second, 1500 * time.Millisecond, DefaultKeepAlive, 7500 * time.Millisecond}, ""},
		{[]string{ep, "CCCI_ETCD_TTL=2", "CCCI_ETCD_MARGIN=0.3"}, Config{[]string{"http://a:1", "http://b:2"}, DefaultPrefix, 2 * time.Second, DefaultTimeout, DefaultKeepAlive, 300 * time.Millisecond}, ""},
		{nil, Config{}, "CCCI_ETCD_ENDPOINTS is not set"},
		{[]string{ep, "CCCI_ETCD_TTL=1s"}, Config{}, "at least 2s"},
		{[]string{ep, "CCCI_ETCD_TTL=ten"}, Config{}, `CCCI_ETCD_TTL: invalid duration "ten"`},
		{[]string{ep, "CCCI_ETCD_TIMEOUT=0"}, Config{}, "want a positive duration"},
		{[]string{ep, "CCCI_ETCD_PREFIX=x"}, Config{}, "want a key prefix"},
		{[]string{ep, "CCCI_ETCD_MARGIN=6s"}, Config{}, "at most half the TTL (5s)"},
		{[]string{"CCCI_ETCD_ENDPOINTS=127.0.0.1:2379,http://[::1]:2379/"}, Config{[]string{"127.0.0.1:2379", "http://[::1]:2379/"}, DefaultPrefix, DefaultTTL, DefaultTimeout, DefaultKeepAlive, 2500 * time.Millisecond}, ""},
		{[]string{"CCCI_ETCD_ENDPOINTS=https://a:1"}, Config{}, "https://a:1: want http://host:port or host:port (TLS is not supported)"},
		{[]string{"CCCI_ETCD_ENDPOINTS=http://a:1,unix:///x"}, Config{}, "unix:///x: want http://host:port"},
		{[]string{"CCCI_ETCD_ENDPOINTS=http://a"}, Config{}, "http://a: want http://host:port or host:port"},
		{[]string{"CCCI_ETCD_ENDPOINTS=http://a:1/v3"}, Config{}, "http://a:1/v3: want http://host:port"},
		{[]string{"CCCI_ETCD_ENDPOINTS=http://u@a:1"}, Config{}, "http://u@a:1: want http://host:port"},
	}
	for _, tt := range tests {
		got, err := ConfigFromEnv(&applet.Env{Environ: tt.env})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: got %+v, %v; want %+v", tt.env, got, err, tt.want)
		}
	}
}

func TestTTLSeconds(t *testing.T) {
	for in, want := range map[time.Duration]int{2 * time.Second: 2, 2500 * time.Millisecond: 3, 10 * time.Second: 10} {
		if got := (Config{TTL: in}).ttlSeconds(); got != want {
			t.Errorf("%v: %d, want %d", in, got, want)
		}
	}
}
