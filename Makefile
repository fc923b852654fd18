# The README's two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/qgate
CONFIG  ?= examples/dev.yaml
# Packages with concurrency run again under the race detector.
RACE_PKGS := ./audit/... ./store/... ./auth/... ./gate/... ./policy/... ./review/... ./proxy/... ./web/... ./notify/... ./signin/... ./cmd/...

.PHONY: build run demo-pg serve test test-race vet fmt-check fuzz bench clean

build:
	$(GO) build -o $(BIN) ./cmd/qgate

# The main job end to end: qgate on the embedded SQLite store in front of a
# sample API, with tokens made and the commands to try printed.
run: build
	./$(BIN) demo

# The demo with a throwaway PostgreSQL behind qgate as well (psql loop).
demo-pg: build
	@out=$$(scripts/pg-start.sh) || exit 1; \
	dir=$$(echo "$$out" | sed -n 2p); trap 'scripts/pg-stop.sh "'"$$dir"'"' EXIT INT TERM; \
	./$(BIN) demo --postgres "$$(echo "$$out" | sed -n 1p)"

serve: build
	./$(BIN) serve --config $(CONFIG)

# One throwaway PostgreSQL (scripts/pg-start.sh) serves every test binary;
# tests run alone start their own through internal/pgtest.
test: fmt-check vet
	@set -e; out=$$(scripts/pg-start.sh); \
	dir=$$(echo "$$out" | sed -n 2p); trap 'scripts/pg-stop.sh "'"$$dir"'"' EXIT; \
	export QGATE_TEST_POSTGRES=$$(echo "$$out" | sed -n 1p); \
	echo "test PostgreSQL in $$dir"; \
	$(GO) test -count=1 ./...; \
	$(GO) test -count=1 -race $(RACE_PKGS)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Short fuzz runs of every parser-facing target (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzAnalyzeSQL -fuzztime $(FUZZTIME) ./analyze/postgres
	$(GO) test -run '^$$' -fuzz FuzzNormalizePath -fuzztime $(FUZZTIME) ./analyze/http
	$(GO) test -run '^$$' -fuzz FuzzGraphQL -fuzztime $(FUZZTIME) ./analyze/graphql
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./auth
	$(GO) test -run '^$$' -fuzz FuzzCompactData -fuzztime $(FUZZTIME) ./audit
	$(GO) test -run '^$$' -fuzz FuzzValid -fuzztime $(FUZZTIME) ./internal/jsonenc
	$(GO) test -run '^$$' -fuzz FuzzClientMessages -fuzztime $(FUZZTIME) -parallel 1 ./proxy/postgres

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./analyze/... ./gate/... ./audit/... ./auth/...

clean:
	rm -rf bin
