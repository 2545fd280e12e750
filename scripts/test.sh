#!/usr/bin/env bash
# make test: validate, build once, then every test and the SAM deploy check against a LocalStack this
# script brings up (and brings down again only if it started it). Keeps the tests' exit status, and
# prints how long each stage took so a slow stage shows at once.
set -euo pipefail
cd "$(dirname "$0")/.."
localstack=infra/localstack/localstack.sh

start=$SECONDS
stage() { printf '\n== make test: %s\n' "$*"; stage_start=$SECONDS; }
took() { printf '== make test: %s took %d s (%d s so far)\n' "$1" $((SECONDS - stage_start)) $((SECONDS - start)); }

stage "make validate (sam validate --lint, the router's Lambda build)"
scripts/validate.sh
took validate

stage "cargo build --workspace --all-targets (every crate once: crates/workspace-hack unifies features)"
cargo build --workspace --all-targets
took build

started=0
if ! $localstack status >/dev/null 2>&1; then $localstack up; started=1; fi
status=0
stage "cargo test --workspace"
cargo test --workspace --no-fail-fast || status=$?
took "cargo test"
stage "scripts/sam-deploy-check.sh"
scripts/sam-deploy-check.sh || status=$?
took "SAM deploy check"
if [ $started = 1 ]; then $localstack down; fi
printf '== make test: exit %d after %d s\n' "$status" $((SECONDS - start))
exit $status
