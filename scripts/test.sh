#!/usr/bin/env bash
# make test: validate, build once, then every test, the SAM deploy check and scripts/smoke-aws.sh
# against a LocalStack this script brings up (and brings down again only if it started it). Keeps the tests' exit status, and
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
stage "scripts/smoke-aws.sh (make smoke-aws) against this LocalStack, then once made to fail: the trap cleans up"
# Always LocalStack here, whatever the caller's environment says: never a real AWS account.
smoke() {
  env -u EVENTFERRY_ENDPOINT_URL -u EVENTFERRY_REGION AWS_ENDPOINT_URL="http://127.0.0.1:${LOCALSTACK_PORT:-4566}" \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 EVENTFERRY_SMOKE_CONFIRM=yes \
    "$@" scripts/smoke-aws.sh
}
smoke || status=$?
# Emitted with a source the rule does not match, nothing arrives: the run must fail at `receive`,
# and its trap must leave nothing behind.
smoke_out=$(smoke EVENTFERRY_SMOKE_EMIT_SOURCE=eventferry.smoke.unmatched EVENTFERRY_SMOKE_RECEIVE_TIMEOUT=5 2>&1) &&
  smoke_rc=0 || smoke_rc=$?
printf '%s\n' "$smoke_out" | sed 's/^/   (made to fail) /'
if [ "$smoke_rc" = 1 ] && [ "$(tail -n 1 <<<"$smoke_out")" = "smoke-aws: FAILED at receive" ] &&
  grep -q 'left behind: status: queue does not exist, 0 rules; cleanup --dry-run: nothing to delete$' <<<"$smoke_out"; then
  echo "== make test: the smoke run made to fail exited 1 at receive, and its trap left nothing behind"
else
  echo "== make test: FAILED: the smoke run made to fail should exit 1 at receive and leave nothing (exit $smoke_rc)"
  status=1
fi
took "smoke-aws"
if [ $started = 1 ]; then $localstack down; fi
printf '== make test: exit %d after %d s\n' "$status" $((SECONDS - start))
exit $status
