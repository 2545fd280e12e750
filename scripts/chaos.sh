#!/usr/bin/env bash
# make chaos: 10,000 events through `eventferry drive` under faults (random sink failures and
# hangs, 5 SIGKILLs, a 10 s cut between driver and LocalStack), then 20 start/SIGKILL cycles, a
# final SIGTERM --clean-up and `eventferry cleanup`. The last line of output is
#   chaos: sent=N delivered_unique=N lost=N duplicates=N leaked_resources=N
# `scripts/chaos.sh --mode replicas` (make chaos-replicas): 3 replicas with --clean-up on one queue,
# two full rolling restarts, one SIGKILL, the sink failing 30 % of requests and a 10 s cut between
# one replica and LocalStack; the last line is
#   chaos-replicas: sent=N delivered_unique=N lost=N duplicates=N leaked_resources=N
# Extra arguments go to the harness (tests/chaos/main.rs), e.g. `scripts/chaos.sh --seed 42`;
# CHAOS_ARGS does the same from make: `make chaos CHAOS_ARGS='--seed 42'`.
# Exit status: the harness's (0 only with lost=0 and leaked_resources=0). LocalStack, when this
# script starts it, runs with SQS_DELAY_RECENTLY_DELETED=1 (infra/localstack/localstack.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1}
export CHAOS_LOG_DIR=${CHAOS_LOG_DIR:-.run/chaos}
mkdir -p "$CHAOS_LOG_DIR"

cargo build -q -p eventferry-driver -p eventferry-tests --bin eventferry --bin chaos

started=0
if ! infra/localstack/localstack.sh status >/dev/null 2>&1; then
  infra/localstack/localstack.sh up
  started=1
fi
status=0
# shellcheck disable=SC2086
target/debug/chaos ${CHAOS_ARGS:-} "$@" || status=$?
# Stopping LocalStack logs to a file, so the chaos line stays the last line.
if [ "$started" = 1 ]; then infra/localstack/localstack.sh down >"$CHAOS_LOG_DIR/localstack-down.log" 2>&1; fi
exit "$status"
