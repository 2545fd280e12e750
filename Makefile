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

.PHONY: help install localstack-up localstack-down localstack-status test demo lint fmt lock-python bench bench-quick bench-patterns validate chaos

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

test: ## Build, start LocalStack, run every test, stop LocalStack; keeps the tests' exit status
	@cargo build --workspace --all-targets
	@started=0; \
	if ! $(LOCALSTACK) status >/dev/null 2>&1; then $(LOCALSTACK) up; started=1; fi; \
	status=0; cargo test --workspace --no-fail-fast || status=$$?; \
	if [ $$started = 1 ]; then $(LOCALSTACK) down; fi; \
	exit $$status

demo: ## The main job on the embedded default: LocalStack up, events through, results shown
	@scripts/demo.sh

lint: ## rustfmt and clippy, as CI wants them
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

lock-python: ## Re-make infra/localstack/requirements.lock from a fresh venv
	rm -rf /tmp/eventferry-lock-venv && python3 -m venv /tmp/eventferry-lock-venv
	/tmp/eventferry-lock-venv/bin/pip install -q -c infra/localstack/constraints-4.13.1.txt "localstack-core[runtime]==4.13.1" cargo-lambda
	{ head -2 infra/localstack/requirements.lock; /tmp/eventferry-lock-venv/bin/pip freeze; } > /tmp/eventferry.lock && mv /tmp/eventferry.lock infra/localstack/requirements.lock

bench: bench-patterns ## Every benchmark, side by side with its peers; tables on stdout, JSON in target/bench/

bench-quick: ## A reduced run of the benchmarks that prints the same tables
	@$(LOCALSTACK) install
	CARGO_TARGET_DIR=target/pattern-bench cargo run --release --manifest-path crates/pattern/bench/Cargo.toml -- --quick --out target/bench/patterns.json

bench-patterns: ## Pattern engines on 200,000 citylots-shaped events: eventferry, quamina, LocalStack's engine, serde_json parse
	@$(LOCALSTACK) install
	CARGO_TARGET_DIR=target/pattern-bench cargo run --release --manifest-path crates/pattern/bench/Cargo.toml -- --out target/bench/patterns.json

validate: ## sam validate --lint (SAM CLI in .venv-sam/) and cargo lambda build --release --arm64 of the router; prints the bootstrap size
	@scripts/validate.sh

chaos: ## 10,000 events through the driver under faults; last line: chaos: sent=.. lost=.. (not in make test)
	@CHAOS_ARGS="$(CHAOS_ARGS)" scripts/chaos.sh
