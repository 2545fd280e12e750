#!/usr/bin/env bash
# make demo, in two parts, both against a LocalStack this script starts if it is not up.
#  A. `eventferry drive` with the pattern in events/demo-patterns.json -> stdout: matching and
#     non-matching events sent with `eventferry emit`, the CloudEvents shown as they arrive, then
#     SIGTERM and the clean-up report.
#  B. The whole pipeline: EventBridge rule -> SQS -> `eventferry drive --sink lambda:router` ->
#     the router Lambda (served by `cargo lambda watch`) -> the subscribed `recorder` function,
#     which writes each event it gets to an SQS queue this script then reads. The router reads its
#     subscriptions from a store (an S3 bucket) that `eventferry subscriptions apply` fills; the
#     demo then deletes the subscription at runtime and shows the router stop invoking recorder.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-$AWS_REGION}  # boto3 reads this one
run=.run/demo
mkdir -p "$run"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

emit_four() {
  echo "   matching (OrderPlaced, total 250):"
  "$bin" emit --source demo.shop --detail-type OrderPlaced --detail '{"order":"o-1001","total":250}' | sed 's/^/     id /'
  echo "   matching (OrderPlaced, total 120):"
  "$bin" emit --source demo.shop --detail-type OrderPlaced --detail '{"order":"o-1002","total":120}' | sed 's/^/     id /'
  echo "   not matching (total 15 is below the pattern's >= 100):"
  "$bin" emit --source demo.shop --detail-type OrderPlaced --detail '{"order":"o-1003","total":15}' | sed 's/^/     id /'
  echo "   not matching (OrderCancelled):"
  "$bin" emit --source demo.shop --detail-type OrderCancelled --detail '{"order":"o-1001"}' | sed 's/^/     id /'
}

step "A1. LocalStack (host mode, 127.0.0.1:4566)"
infra/localstack/localstack.sh up

step "A2. Building eventferry, the router and the recorder (one cargo call; the first build takes minutes)"
# One build for both parts: every crate compiles once (the workspace-hack crate unifies features), and
# `cargo lambda watch` in part B runs `cargo run --bin router|recorder`, which finds them built.
cargo build --bin eventferry --bin router --bin recorder
bin=target/debug/eventferry
# A name per run: SQS (and LocalStack, started with SQS_DELAY_RECENTLY_DELETED=1) refuses to re-create
# a queue name for 60 s after it was deleted, and each run deletes its queues at the end.
run_id=$(date +%s)
queue="eventferry-demo-$run_id"

step "A3. Starting the driver: rule from events/demo-patterns.json -> SQS queue '$queue' -> stdout"
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

step "A4. Emitting events with 'eventferry emit'"
emit_four

step "A5. CloudEvents arriving at the sink"
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

step "A6. SIGTERM: drain, flush deletes, clean up what the driver owns"
kill -TERM $driver
wait $driver
trap - EXIT
grep -v "receiving" "$run/driver.log" | tail -n +2 | sed 's/^/   driver: /'

# ---------------------------------------------------------------------------------------------
py=.venv/bin/python  # boto3 comes with LocalStack's install
watch_port=${DEMO_WATCH_PORT:-9100}
recorded_queue="eventferry-demo-recorded-$run_id"
router_queue="eventferry-demo-router-$run_id"
store_bucket="eventferry-demo-subscriptions-$run_id"
export EVENTFERRY_SUBSCRIPTIONS_STORE="s3://$store_bucket/subscriptions.json"

step "B1. The recorder's queue and the router's subscription store (router and recorder were built in A2)"
recorded_url=$("$py" - "$recorded_queue" <<'PY'
import sys, boto3
print(boto3.client("sqs").create_queue(QueueName=sys.argv[1])["QueueUrl"])
PY
)
echo "   recorder writes to $recorded_url"
"$py" - "$store_bucket" <<'PY'
import sys, boto3
boto3.client("s3").create_bucket(Bucket=sys.argv[1])
PY
echo "   subscription store $EVENTFERRY_SUBSCRIPTIONS_STORE (what template.yaml creates on AWS)"
echo "   \$ eventferry subscriptions apply -f events/demo-subscriptions.yaml"
"$bin" subscriptions apply -f events/demo-subscriptions.yaml | sed 's/^/     /'
echo "   \$ eventferry subscriptions list"
"$bin" subscriptions list | sed 's/^/     /'

step "B2. cargo lambda watch: router and recorder behind a local Lambda Invoke endpoint (127.0.0.1:$watch_port)"
if ss -Hltn "sport = :$watch_port" 2>/dev/null | grep -q .; then
  echo "port $watch_port is in use; set DEMO_WATCH_PORT to a free port" >&2; exit 1
fi
# setsid: watch leads its own process group, which is stopped by that PID at the end.
EVENTFERRY_SUBSCRIPTIONS_REFRESH_SECONDS=2 \
RECORDER_QUEUE_URL="$recorded_url" \
AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$watch_port" \
RUST_LOG=info \
  setsid .venv/bin/cargo-lambda lambda watch --ignore-changes --invoke-address 127.0.0.1 \
    --invoke-port "$watch_port" >"$run/watch.log" 2>&1 </dev/null &
watch=$!
stop_watch() {
  kill -TERM -- "-$watch" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$watch" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL -- "-$watch" 2>/dev/null || true
}
# On an early exit: stop what runs, and delete the recorder's queue and the store (best effort).
remove_b_resources() {
  "$py" - "$recorded_url" "$store_bucket" <<'PY' || true
import sys, boto3
try:
    boto3.client("sqs").delete_queue(QueueUrl=sys.argv[1])
except Exception:
    pass
try:
    bucket = boto3.resource("s3").Bucket(sys.argv[2])
    bucket.objects.all().delete()
    bucket.delete()
except Exception:
    pass
PY
}
trap 'kill -9 $driver 2>/dev/null || true; stop_watch; remove_b_resources' EXIT
for _ in $(seq 1 240); do
  (exec 3<>"/dev/tcp/127.0.0.1/$watch_port") 2>/dev/null && break
  kill -0 $watch 2>/dev/null || { tail -20 "$run/watch.log"; echo "cargo lambda watch exited early" >&2; exit 1; }
  sleep 0.5
done
echo "   listening (pid $watch; log $run/watch.log)"

step "B3. The driver: every demo.shop event -> queue '$router_queue' -> lambda:router"
AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$watch_port" \
  "$bin" drive --event-patterns '[{"source":["demo.shop"]}]' --queue-name "$router_queue" \
  --sink lambda:router --duration 2 --clean-up >"$run/router-driver.out" 2>"$run/router-driver.log" &
driver=$!
for _ in $(seq 1 120); do
  grep -q "receiving" "$run/router-driver.log" && break
  kill -0 $driver 2>/dev/null || { cat "$run/router-driver.log"; echo "driver exited early" >&2; exit 1; }
  sleep 0.5
done
sed 's/^/   driver: /' "$run/router-driver.log"

step "B4. Emitting the same four events"
emit_four

step "B5. What the recorder got (the router passed on the two big OrderPlaced events)"
"$py" - "$recorded_url" <<'PY'
import json, sys, time, boto3
sqs, url = boto3.client("sqs"), sys.argv[1]
got, deadline = [], time.time() + 90
while time.time() < deadline and len(got) < 2:
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []):
        got.append(json.loads(m["Body"]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
for e in sorted(got, key=lambda e: e["data"]["detail"]["order"]):
    d = e["data"]["detail"]
    print(f"   recorder got CloudEvent id={e['id']} type={e['type']} awsdetailtype={e.get('awsdetailtype')} order={d['order']} total={d['total']}")
print(f"   {len(got)} event(s) recorded")
if len(got) != 2:
    sys.exit("expected 2 recorded events; see .run/demo/watch.log and router-driver.log")
PY
sleep 2
echo "   router log (results, and the events no subscription matched):"
"$py" - "$run/watch.log" <<'PY'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        f = json.loads(line[line.index("{"):])["fields"]
    except (ValueError, KeyError):
        continue
    if f.get("message") in ("invocation result", "no subscription matched: event dropped"):
        event_id = f["event"].rsplit("#", 1)[-1]
        detail = f"-> {f['subscription']} -> {f['target']}: {f['status']} in {f['duration_ms']} ms" if "target" in f else ""
        print(f"     router: {f['message']} (event {event_id}) {detail}".rstrip())
PY

step "B6. Deleting the subscription at runtime: the router stops invoking recorder (refresh every 2 s)"
echo "   \$ eventferry subscriptions delete record-big-orders"
"$bin" subscriptions delete record-big-orders | sed 's/^/     /'
sleep 3
emit_four
"$py" - "$recorded_url" "$run/watch.log" <<'PY'
import sys, time, boto3
sqs, url = boto3.client("sqs"), sys.argv[1]
got, deadline = 0, time.time() + 15
while time.time() < deadline:
    got += len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []))
versions = [l for l in open(sys.argv[2], errors="replace") if "serving subscriptions version" in l]
print(f"   the router logged {len(versions)} subscription version(s) served; recorder got {got} event(s) in 15 s after the delete")
if got:
    sys.exit("expected no recorded events after the delete; see .run/demo/watch.log")
PY

step "B7. SIGTERM the driver (drain, clean up), stop cargo lambda watch, delete the recorder's queue and the store"
kill -TERM $driver
wait $driver
grep -v "receiving" "$run/router-driver.log" | tail -n 3 | sed 's/^/   driver: /'
stop_watch
trap - EXIT
remove_b_resources
echo "   deleted $recorded_queue and $store_bucket"
echo
echo "Done. LocalStack is still up (make localstack-down stops it)."
