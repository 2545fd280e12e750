#!/usr/bin/env bash
# make demo (interim, until `eventferry drive` lands): bring LocalStack up and run the real SQS slice
# against it, showing what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/localstack/localstack.sh up
echo "== SQS round trip against LocalStack: create queue, send 25, long-poll, batch-delete, delete queue"
cargo test -q -p eventferry-tests --test sqs -- --nocapture
