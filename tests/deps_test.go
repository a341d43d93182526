package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are module paths the binary must not link, because Go runs the init
// of every linked package at the start of every call of every applet: the
// gRPC etcd client and what it drags in (165 of 400 packages and 11 MB
// once; internal/etcdlock speaks etcd's HTTP/JSON gateway instead), and the
// moby API types with go-digest's init-time regexps and the OCI image-spec
// (internal/swarm/api holds the few wire structs ccci sends and reads);
// and a compose loader with a JSON-schema validator compiled at init
// (~8 ms a call for compose-go's), logrus and mapstructure: docker's
// loader logic is ported in internal/compose, only its types are linked;
// and net/http with crypto/tls and x509 (~1.8 ms of start a call, for two
// plain HTTP/1.1 JSON APIs that internal/httpc speaks).
var heavy = []string{
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
	"google.golang.org/genproto",
	"github.com/golang/protobuf",
	"go.uber.org/zap",
	"go.etcd.io",
	"github.com/moby/moby",
	"github.com/docker/docker",
	"github.com/opencontainers",
	"github.com/moby/docker-image-spec",
	"github.com/compose-spec/compose-go",
	"github.com/docker/cli/cli/compose/loader",
	"github.com/docker/cli/cli/compose/schema",
	"github.com/xeipuuli/gojsonschema",
	"github.com/santhosh-tekuri/jsonschema",
	"github.com/sirupsen/logrus",
	"github.com/mitchellh/mapstructure",
	"github.com/go-viper/mapstructure",
	"net/http",
	"crypto/tls",
	"crypto/x509",
}

// TestDepsLean: no package of the binary (`go list -deps` of the main
// package) comes from a heavy module.
func TestDepsLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "..").Output()
	if err != nil {
		t.Fatalf("go list -deps ..: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list -deps .. listed %d packages: %q", len(pkgs), out)
	}
	for _, p := range pkgs {
		for _, h := range heavy {
			if p == h || strings.HasPrefix(p, h+"/") {
				t.Errorf("the binary links %s (module %s)", p, h)
			}
		}
	}
}
