# The two commands of the quick start: `make run` and `make test`.
# Everything builds in the release profile so tests, benchmarks and the
# server share one build of RocksDB.

CARGO       ?= cargo
CARGO_FLAGS ?= --release --locked
LISTEN      ?= 127.0.0.1:8080
DATA        ?= ./data

.PHONY: run test build deps peers bench fuzz fmt lint deploy-check simulate

deps:
	@scripts/ensure-system-deps.sh

build: deps
	$(CARGO) build $(CARGO_FLAGS) --workspace --bins

## Build and start the server on an embedded RocksDB under ./data.
run: deps
	$(CARGO) build $(CARGO_FLAGS) -p payledger --bin payledger
	./target/release/payledger serve --listen $(LISTEN) --data $(DATA)

## Real third-party peers the tests run against (commercetools SDK, ...).
peers: deps
	@scripts/ensure-test-peers.sh

## Lint and validate deploy/ (Dockerfile, compose file, Kubernetes
## manifests, configuration files) with the pinned validators in .venv.
deploy-check:
	@scripts/ensure-deploy-tools.sh
	.venv/bin/python deploy/tests/check_deploy.py

## Install what the tests need and run every test (deploy/ first: seconds).
test: deps deploy-check build peers
	$(CARGO) test $(CARGO_FLAGS) --workspace --no-fail-fast

## The seeded fault simulation (tests/e2e/simulation.rs): `make simulate
## SEEDS=N` runs N seeds from a random start, `make simulate SEED=n` one
## seed again; STEPS=k changes the steps per seed (default 30).
SEED  ?=
SEEDS ?=
STEPS ?=
simulate: build peers
	PAYLEDGER_SIM_SEED=$(SEED) PAYLEDGER_SIM_SEEDS=$(SEEDS) PAYLEDGER_SIM_STEPS=$(STEPS) \
	  $(CARGO) test $(CARGO_FLAGS) -p payledger-e2e --test e2e simulation:: -- --nocapture

## Run the benchmarks recorded in BENCHMARKS.md.
bench: build
	./target/release/payledger-bench append --data ./target/bench --seconds 5

## Run every fuzz target (the `fuzz::fuzz_*` unit tests) with FUZZ_CASES
## cases each, one after another, from FUZZ_SEED (default: the clock;
## printed, pass it back to reproduce). `make test` runs the same targets
## with 2,000 cases and a fixed seed.
FUZZ_CASES ?= 1000000
ifndef FUZZ_SEED
FUZZ_SEED  := $(shell date +%s)
endif
FUZZ_PACKAGES := -p payledger-query -p payledger-codec -p payledger-api \
                 -p payledger-wire -p payledger-psp -p payledger-webhooks
fuzz: deps
	@echo "fuzz: $(FUZZ_CASES) cases per target, PAYLEDGER_FUZZ_SEED=$(FUZZ_SEED)"
	@mkdir -p target
	@( PAYLEDGER_FUZZ_CASES=$(FUZZ_CASES) PAYLEDGER_FUZZ_SEED=$(FUZZ_SEED) \
	   $(CARGO) test $(CARGO_FLAGS) $(FUZZ_PACKAGES) --lib -- fuzz::fuzz_ \
	   --nocapture --test-threads=1; echo $$? > target/fuzz.status ) 2>&1 | tee target/fuzz.log
	@echo "--- fuzz summary (seed $(FUZZ_SEED)) ---"
	@grep -o 'fuzz [a-z_]*: .*' target/fuzz.log || true
	@exit $$(cat target/fuzz.status)

fmt:
	$(CARGO) fmt --all

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
