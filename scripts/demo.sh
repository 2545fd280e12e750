#!/usr/bin/env bash
# make demo: LocalStack up, `eventferry drive` with the pattern in events/demo-patterns.json,
# matching and non-matching events sent with `eventferry emit`, the CloudEvents shown as they
# arrive, then SIGTERM and the clean-up report.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
run=.run/demo
mkdir -p "$run"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. LocalStack (host mode, 127.0.0.1:4566)"
infra/localstack/localstack.sh up

step "2. Building eventferry"
cargo build -q -p eventferry-driver
bin=target/debug/eventferry
queue="eventferry-demo"

step "3. Starting the driver: rule from events/demo-patterns.json -> SQS queue '$queue' -> stdout"
cat events/demo-patterns.json
"$bin" drive --event-patterns @events/demo-patterns.json --queue-name "$queue" \
  --sink stdout --duration 2 --clean-up >"$run/events.ndjson" 2>"$run/driver.log" &
driver=$!
trap 'kill -9 $driver 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q "receiving" "$run/driver.log" && break
  kill -0 $driver 2>/dev/null || { cat "$run/driver.log"; echo "driver exited early" >&2; exit 1; }
  sleep 0.5
done
sed 's/^/   driver: /' "$run/driver.log"

step "4. Emitting events with 'eventferry emit'"
echo "   matching (OrderPlaced, total 250):"
"$bin" emit --source demo.shop --detail-type OrderPlaced --detail '{"order":"o-1001","total":250}' | sed 's/^/     id /'
echo "   matching (OrderPlaced, total 120):"
"$bin" emit --source demo.shop --detail-type OrderPlaced --detail '{"order":"o-1002","total":120}' | sed 's/^/     id /'
echo "   not matching (total 15 is below the pattern's >= 100):"
"$bin" emit --source demo.shop --detail-type OrderPlaced --detail '{"order":"o-1003","total":15}' | sed 's/^/     id /'
echo "   not matching (OrderCancelled):"
"$bin" emit --source demo.shop --detail-type OrderCancelled --detail '{"order":"o-1001"}' | sed 's/^/     id /'

step "5. CloudEvents arriving at the sink"
for _ in $(seq 1 60); do
  [ "$(wc -l <"$run/events.ndjson")" -ge 2 ] && break
  sleep 0.5
done
sleep 2
python3 - "$run/events.ndjson" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
for l in lines:
    e = json.loads(l)
    d = e["data"]["detail"]
    print(f"   CloudEvent id={e['id']} type={e['type']} time={e['time']}")
    print(f"              source={e['source']} awsdetailtype={e.get('awsdetailtype')} order={d.get('order')} total={d.get('total')}")
print(f"   {len(lines)} event(s) arrived; the 2 non-matching ones were filtered out by the EventBridge rule.")
PY

step "6. SIGTERM: drain, flush deletes, clean up what the driver owns"
kill -TERM $driver
wait $driver
trap - EXIT
grep -v "receiving" "$run/driver.log" | tail -n +2 | sed 's/^/   driver: /'
echo
echo "Done. LocalStack is still up (make localstack-down stops it)."
