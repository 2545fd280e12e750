# eventferry: every target installs what it needs into .venv/ (git-ignored) on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

LOCALSTACK := infra/localstack/localstack.sh
VENV := .venv
# LocalStack credentials and endpoint for everything a target starts.
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
export AWS_REGION ?= us-east-1
export AWS_ENDPOINT_URL ?= http://127.0.0.1:4566
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: completions hakari help install localstack-up localstack-down localstack-status test demo smoke-aws lint fmt lock-python bench bench-quick bench-patterns bench-driver bench-router bench-plots bench-lint bench-build validate chaos chaos-replicas

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## Install LocalStack 4.13.1 and cargo-lambda into .venv (once)
	@$(LOCALSTACK) install

localstack-up: ## Start LocalStack on 127.0.0.1:4566 in the background (idempotent)
	@$(LOCALSTACK) up

localstack-down: ## Stop the LocalStack this project started, by PID
	@$(LOCALSTACK) down

localstack-status: ## Say whether our LocalStack is up
	@$(LOCALSTACK) status

test: ## make validate, build, start LocalStack, run every test and the SAM deploy check, stop LocalStack; prints each stage's time
	@scripts/test.sh

demo: ## The main job on the embedded default: LocalStack up, events through, results shown
	@scripts/demo.sh

# Real AWS: drop the LocalStack defaults exported above (credentials, region, endpoint) unless they came
# from your environment or the command line, so the standard credential chain decides.
SMOKE_UNSET := $(foreach v,AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL,$(if $(filter file,$(origin $(v))),-u $(v)))
smoke-aws: ## Provision, emit, receive, clean up on the AWS account of your credentials (asks for EVENTFERRY_SMOKE_CONFIRM=yes)
	@env $(SMOKE_UNSET) scripts/smoke-aws.sh

lint: ## rustfmt, clippy, no module import cycle in a crate, no file over 800 lines before its tests
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	python3 scripts/module-cycles.py
	python3 scripts/source-limits.py
	python3 scripts/doc-links.py

fmt:
	cargo fmt --all

hakari: ## Re-make crates/workspace-hack after a dependency change (installs cargo-hakari once); one build per crate
	@command -v cargo-hakari >/dev/null || cargo install cargo-hakari --locked
	cargo hakari generate
	cargo hakari manage-deps --yes

completions: ## Shell completions and the man page from the clap definitions, into target/completions/
	cargo build -p eventferry-driver --bin eventferry
	mkdir -p target/completions
	target/debug/eventferry completions bash > target/completions/eventferry.bash
	target/debug/eventferry completions zsh > target/completions/_eventferry
	target/debug/eventferry completions fish > target/completions/eventferry.fish
	target/debug/eventferry man > target/completions/eventferry.1
	@ls -l target/completions

lock-python: ## Re-make infra/localstack/requirements.lock from a fresh venv
	rm -rf /tmp/eventferry-lock-venv && python3 -m venv /tmp/eventferry-lock-venv
	/tmp/eventferry-lock-venv/bin/pip install -q -c infra/localstack/constraints-4.13.1.txt "localstack-core[runtime]==4.13.1" cargo-lambda
	{ head -2 infra/localstack/requirements.lock; /tmp/eventferry-lock-venv/bin/pip freeze; } > /tmp/eventferry.lock && mv /tmp/eventferry.lock infra/localstack/requirements.lock

# Benchmarks: their own cargo workspace (bench/) and target dir, so criterion and plotters never
# enter the main workspace. BENCH_QUICK=--quick gives the reduced run (make bench-quick).
BENCH_QUICK ?=
BENCH_CARGO := CARGO_TARGET_DIR=target/bench-build cargo
BENCH_BIN := target/bench-build/release/eventferry-bench
PATTERN_BENCH := CARGO_TARGET_DIR=target/pattern-bench cargo run --release --manifest-path crates/pattern/bench/Cargo.toml --
# Brings LocalStack up if it is not running, runs $(1), and takes it down only if it started it.
with_localstack = started=0; \
	if ! $(LOCALSTACK) status >/dev/null 2>&1; then $(LOCALSTACK) up; started=1; fi; \
	status=0; $(1) || status=$$?; \
	if [ $$started = 1 ]; then $(LOCALSTACK) down; fi; \
	exit $$status

bench: ## Every benchmark side by side with its peers (patterns, router, driver vs LocalStack floor and Python); tables, target/bench/*.json, docs/bench/*.svg
	@$(MAKE) --no-print-directory bench-patterns bench-router bench-driver bench-plots

bench-quick: ## A reduced run of every benchmark (under 3 minutes) printing the same tables; plots go to target/bench/plots/
	@$(MAKE) --no-print-directory bench-patterns bench-router bench-driver BENCH_QUICK=--quick
	@$(MAKE) --no-print-directory bench-plots BENCH_PLOTS_OUT=target/bench/plots

bench-patterns: ## Pattern engines on 200,000 citylots-shaped events: eventferry, quamina, LocalStack's engine, serde_json parse
	@$(LOCALSTACK) install
	$(PATTERN_BENCH) $(BENCH_QUICK) --out target/bench/patterns.json

bench-build: ## (internal) builds the release driver and router and the bench binary
	@$(LOCALSTACK) install
	cargo build --release -j 2 -p eventferry-driver -p eventferry-router --bin eventferry --bin router
	$(BENCH_CARGO) build --release -j 2 --manifest-path bench/Cargo.toml

bench-driver: bench-build ## The driver vs the SQS API floor and a Python boto3 peer, against LocalStack (brought up if needed); target/bench/driver.json
	@$(call with_localstack,$(BENCH_BIN) driver $(BENCH_QUICK))

# ROUTER_VARIANTS='--variant opt-s=path/to/router' adds another router build to the size/cold-start table.
ROUTER_VARIANTS ?=
# The router bench runs the router's code on the router's allocator (mimalloc): its own build of
# the bench binary with --features router-allocator, apart from the driver bench's (whose floor
# stays on the system allocator).
ROUTER_BENCH_BIN := target/bench-build-router/release/eventferry-bench
bench-router: bench-build ## Router routing cost (criterion), cold start, bootstrap size and RSS; target/bench/router.json
	CARGO_TARGET_DIR=target/bench-build-router cargo build --release -j 2 --manifest-path bench/Cargo.toml --features router-allocator
	$(ROUTER_BENCH_BIN) router $(BENCH_QUICK) $(ROUTER_VARIANTS)

BENCH_PLOTS_OUT ?= docs/bench
bench-plots: ## Plots (plotters) from target/bench/*.json into docs/bench/
	$(BENCH_CARGO) build --release -j 2 --manifest-path bench/Cargo.toml
	$(BENCH_BIN) plots --out $(BENCH_PLOTS_OUT)

bench-lint: ## rustfmt and clippy for the bench workspace
	$(BENCH_CARGO) fmt --manifest-path bench/Cargo.toml -- --check
	$(BENCH_CARGO) clippy --release -j 2 --manifest-path bench/Cargo.toml -- -D warnings

validate: ## sam validate --lint (SAM CLI in .venv-sam/) and cargo lambda build --release --arm64 of the router; prints the bootstrap size
	@scripts/validate.sh

chaos: ## 10,000 events through the driver under faults; last line: chaos: sent=.. lost=.. (not in make test)
	@CHAOS_ARGS="$(CHAOS_ARGS)" scripts/chaos.sh

chaos-replicas: ## 10,000 events through 3 replicas: rolling restarts, a SIGKILL, a cut; last line: chaos-replicas: sent=.. lost=.. (not in make test)
	@CHAOS_ARGS="--mode replicas $(CHAOS_ARGS)" scripts/chaos.sh
