# Slipstream: `make run` runs the main job on a local node, `make test` runs
# every test. Both set up what they need (Go modules, .venv, tools).

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools
STATICCHECK_VERSION := v0.8.2
PROTOC_GEN_GO_VERSION := v1.36.12
GO_SOURCES := $(shell find cmd flight scheduler kernels -name '*.go' -not -name '*_test.go' 2>/dev/null) \
	$(shell find flight/dashboard -type f 2>/dev/null)
PY_SOURCES := $(shell find python/slipstream -name '*.py' 2>/dev/null)

.PHONY: run test test-spill test-secure build venv tools browser go-test py-test lint fuzz fuzz-ci bench bench-venv bench-tpch bench-highcard bench-cluster bench-replicas soak-replicas bench-memory bench-sf100 bench-tracing bench-auth bench-ctas bench-flightsql screenshots proto clean

## run: build, install the client, start a local node, run a query on TPC-H lineitem
run: venv
	$(PY) examples/lineitem.py

## test: go vet, staticcheck, go tests (race), generated-code check, ruff, pytest
test: venv tools browser lint go-test fuzz-ci py-test

build:
	go build -o bin/slipstream ./cmd/slipstream

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml hatch_build.py go.mod go.sum $(GO_SOURCES) $(PY_SOURCES)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[dev]"
	touch $@

tools: $(TOOLS)/staticcheck $(TOOLS)/protoc-gen-go
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

## browser: Debian's chromium and chromium-driver, which the dashboard's test drives
## (python/tests/test_dashboard.py skips, saying why, when they cannot be installed)
browser:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium chromium-driver; } \
		|| echo "make browser: could not install chromium and chromium-driver; the dashboard's browser test will be skipped"

lint: venv tools
	go vet ./...
	@test -z "$$(gofmt -l cmd flight scheduler kernels internal)" || { echo "gofmt needed:"; gofmt -l cmd flight scheduler kernels internal; exit 1; }
	$(TOOLS)/staticcheck ./...
	$(VENV)/bin/ruff check python bench examples notebooks
	$(VENV)/bin/ruff format --check python bench examples notebooks

go-test: venv tools
	PATH=$(TOOLS):$$PATH SLIPSTREAM_PYTHON=$(CURDIR)/$(PY) go test -race -count=1 ./...

py-test: venv
	$(PY) -m pytest -q

## test-secure: the Python suite with the nodes connect() starts serving TLS and calling
## each other with mutual TLS, tokens on every call (not part of `make test`)
test-secure: venv
	SLIPSTREAM_TEST_TLS=1 $(PY) -m pytest -q

## test-spill: the Python suite with every node at a tiny --memory-limit and
## --operator-memory, so that every operator that can spill does (not part of `make test`)
TEST_MEMORY_LIMIT ?= 24MiB
TEST_OPERATOR_MEMORY ?= 64KiB
test-spill: venv
	SLIPSTREAM_TEST_MEMORY_LIMIT=$(TEST_MEMORY_LIMIT) SLIPSTREAM_TEST_OPERATOR_MEMORY=$(TEST_OPERATOR_MEMORY) \
		$(PY) -m pytest -q

## test-guard: the Go tests and the Python suite with every Arrow buffer on pages of its
## own that become unreadable when it is freed: a read after a release stops with the
## reader's stack (slower; not part of `make test`)
test-guard: venv tools
	SLIPSTREAM_GUARD_FREED=1 SLIPSTREAM_PYTHON=$(CURDIR)/$(PY) go test -count=1 ./...
	SLIPSTREAM_GUARD_FREED=1 $(PY) -m pytest -q

## bench-venv: .venv with the peers the benchmarks compare with (the `bench` extra)
bench-venv: $(VENV)/.bench-installed
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install -q ".[dev,bench]"
	touch $@

## fuzz: each fuzz target for FUZZTIME (default 60s); the committed corpus (testdata/fuzz)
## runs as seeds in `make test`, and `make test` fuzzes each target for 15s (fuzz-ci).
## Data goes to /dev/shm where there is one: an upload fsyncs, and a disk's fsync would
## make each run take a quarter of a second.
FUZZTIME ?= 60s
FUZZ = $(shell test -d /dev/shm && echo TMPDIR=/dev/shm) go test -run '^$$' -fuzzminimizetime 100x -fuzztime $(FUZZTIME)
fuzz: tools
	$(FUZZ) ./scheduler -fuzz FuzzQuery
	$(FUZZ) ./flight -fuzz FuzzUpload
	$(FUZZ) ./flight -fuzz FuzzTicket
	$(FUZZ) ./kernels/exec -fuzz FuzzFileScan

fuzz-ci: FUZZTIME = 15s
fuzz-ci: fuzz

## bench: upload/download throughput and group-by timings against peers
bench: bench-venv
	$(PY) bench/bench_e2e.py

## bench-tpch: TPC-H SF1 on a local node against DuckDB, polars and DataFusion (2 threads each)
bench-tpch: bench-venv
	$(PY) bench/tpch/run.py --check

## bench-highcard: high-cardinality group-bys, joins and sorts against DuckDB and polars
## (10^7 rows; HIGHCARD_ARGS="--rows 100000000 --summarize --memory-limit 6GiB" for 10^8)
bench-highcard: bench-venv
	$(PY) bench/highcard.py $(HIGHCARD_ARGS)

## bench-cluster: TPC-H on three local nodes vs one, and a node killed mid-query
bench-cluster: bench-venv
	$(PY) bench/bench_cluster.py

## bench-replicas: upload throughput with one durable copy and with two, repair MB/s, time to re-replicate SF1 lineitem
bench-replicas: venv
	$(PY) bench/bench_replicas.py

## bench-ctas: CREATE TABLE AS and COPY TO of SF1 lineitem against a download and re-upload (one node, three)
bench-ctas: bench-venv
	$(PY) bench/bench_ctas.py $(CTAS_ARGS)

## bench-flightsql: TPC-H SF1 in SQL over ADBC vs DuckDB and the native client; time to first
## row over ADBC, JDBC and the native client
bench-flightsql: bench-venv
	$(PY) bench/bench_flightsql.py

## bench-auth: download throughput with no auth, with tokens, and with TLS and tokens
bench-auth: venv
	$(PY) bench/bench_auth.py
## soak-replicas: the SIGKILL-during-uploads test for SOAK_ROUNDS rounds (default 40) with seed SOAK_SEED
SOAK_ROUNDS ?= 40
SOAK_SEED ?= 17
soak-replicas: venv
	SLIPSTREAM_SOAK_ROUNDS=$(SOAK_ROUNDS) SLIPSTREAM_SOAK_SEED=$(SOAK_SEED) $(PY) -m pytest -q -s python/tests/test_replicas.py -k kill_9

## bench-memory: TPC-H SF10 at --memory-limit 2GiB and 4GiB against DuckDB at the same limit
bench-memory: bench-venv
	$(PY) bench/tpch/memory.py --scale 10 --limits 2GiB,4GiB

## bench-sf100: TPC-H SF100 (about 40 GB of Parquet, written once by tpchgen-cli) at
## --memory-limit 16GiB against DuckDB at the same limit; SF100_ARGS="--queries 1,6" for some
bench-sf100: bench-venv
	$(PY) bench/tpch/memory.py --scale 100 --limits 16GiB $(SF100_ARGS)

## bench-tracing: TPC-H SF1 on a node exporting every span over OTLP and on one with tracing off,
## query by query; prints the ratio (TRACING_ARGS="--nodes 3" for local clusters of three)
bench-tracing: venv
	$(PY) bench/tpch/tracing.py $(TRACING_ARGS)

## screenshots: retake docs/dashboard-*.png and docs/notebook-progress*.png in headless
## chromium (the notebook's in JupyterLab, from the `screenshots` extra)
screenshots: $(VENV)/.screenshots-installed build browser
	$(PY) scripts/dashboard_screenshots.py
	$(PY) scripts/notebook_screenshot.py
$(VENV)/.screenshots-installed: $(VENV)/.installed
	$(PY) -m pip install -q ".[dev,screenshots]"
	touch $@

## proto: regenerate Go and Python code from scheduler/planpb/plan.proto
proto: venv tools
	PATH=$(TOOLS):$$PATH PYTHON=$(PY) scripts/genproto.sh

clean:
	rm -rf bin build dist $(VENV) $(TOOLS) slipstream-data
