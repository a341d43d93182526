# ccci — see README.md. `make demo` and `make test` are the two set-up commands.
GO      ?= go
BIN     := bin/ccci
# The default suite must stay well inside CI's 90 minutes on 2 cores.
TESTTIMEOUT ?= 40m

.PHONY: build test demo bench fuzz soak testbed vet clean

# A static binary (no cgo): it starts ~5 ms faster on every call than one
# that loads libc through ld.so, and runs on any runner host.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) .
	./$(BIN) --install -f bin

# The test bed (dockerd, a one-node swarm, the test images, etcd) is brought up
# by .ci/testbed; the tests call it too and fail, never skip, when it cannot.
testbed:
	.ci/testbed up

test: build testbed vet
	$(GO) test -count=1 -timeout $(TESTTIMEOUT) ./...

demo: build testbed
	PATH="$(CURDIR)/bin:$$PATH" scripts/demo.sh

bench: build testbed
	PATH="$(CURDIR)/bin:$$PATH" .ci/bench

fuzz:
	.ci/fuzz

soak: build testbed
	CCCI_SOAK=1 $(GO) test -timeout 120m -run 'Soak|IncrKilled' -v ./tests/...

# gofmt, go vet (./... skips .ci/, so the bench tool is named), a tidy go.mod.
vet:
	gofmt -l . | (! grep .)
	$(GO) vet ./... ./.ci/benchtool
	$(GO) mod tidy -diff

clean:
	rm -rf bin

# The expected `docker stack config` output of the recipe corpus
# (tests/testdata/recipes-corpus), made with the Docker CLI 28; see .ci/golden.
.PHONY: golden
golden:
	.ci/golden
