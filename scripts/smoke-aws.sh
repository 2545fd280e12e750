#!/usr/bin/env bash
# make smoke-aws: provision, emit, receive, clean up and check the listing, on the AWS account and
# region of the standard credential chain (environment, AWS_PROFILE, SSO, instance or container role).
# It never reads or sets AWS_ACCESS_KEY_ID or AWS_ENDPOINT_URL itself: whatever the chain and the
# caller's environment say is what it runs against. `make test` runs the same script against its
# LocalStack (AWS_ENDPOINT_URL=http://127.0.0.1:4566), so it stays correct.
#
# Refuses to run unless EVENTFERRY_SMOKE_CONFIRM=yes (exit 2). Last line: `smoke-aws: ok (<n> s)`
# (exit 0) or `smoke-aws: FAILED at <step>` (exit 1). On any exit, a trap stops the driver it started
# (by its PID) and runs `eventferry cleanup --owner <instance> --force` (--force: the lease of the
# driver it just stopped may still look live), then says what, if anything, is left.
#
# Knobs (for testing this script):
#   EVENTFERRY_SMOKE_BIN             an eventferry binary to use instead of building target/debug/eventferry
#   EVENTFERRY_SMOKE_EVENTS          how many events to emit (default 3)
#   EVENTFERRY_SMOKE_RECEIVE_TIMEOUT seconds to wait for them to arrive (default 120)
#   EVENTFERRY_SMOKE_EMIT_SOURCE     emit with this source instead of the rule's (nothing arrives:
#                                    checks the failure path and its clean-up)
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
ts=$(date +%s)
rand=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
name="eventferry-smoke-$ts-$rand" # queue and instance: [a-z0-9-], 34 characters
source="eventferry.smoke.$ts-$rand"
emit_source=${EVENTFERRY_SMOKE_EMIT_SOURCE:-$source}
events=${EVENTFERRY_SMOKE_EVENTS:-3}
receive_timeout=${EVENTFERRY_SMOKE_RECEIVE_TIMEOUT:-120}
for n in "$events" "$receive_timeout"; do
  [[ $n =~ ^[1-9][0-9]{0,3}$ ]] || {
    echo "smoke-aws: EVENTFERRY_SMOKE_EVENTS and EVENTFERRY_SMOKE_RECEIVE_TIMEOUT take a number from 1 to 9999, not '$n'" >&2
    exit 2
  }
done

endpoint=${EVENTFERRY_ENDPOINT_URL:-${AWS_ENDPOINT_URL:-}}
case "$endpoint" in
  "") target="AWS itself: the account and region of your credential chain (AWS_PROFILE=${AWS_PROFILE:-<unset>}, region ${EVENTFERRY_REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-from the profile}}})" ;;
  http://127.0.0.1:* | http://localhost:* | http://127.0.0.1 | http://localhost) target="LocalStack at $endpoint" ;;
  *) target="the endpoint $endpoint (AWS_ENDPOINT_URL or EVENTFERRY_ENDPOINT_URL)" ;;
esac

if [ "${EVENTFERRY_SMOKE_CONFIRM:-}" != yes ]; then
  cat >&2 <<EOF
smoke-aws runs against $target.
It creates, for a few minutes at most, and then deletes:
  - an SQS queue $name (SSE on, tagged managed-by=eventferry),
  - an EventBridge rule eventferry-$name-<hash> on the default bus, its target and a queue policy statement,
  - $events events put on the default bus (PutEvents) with source $source.
Cost: a few hundred SQS and EventBridge requests, well under one US cent (a few cents at most).
Permissions: those in infra/iam/driver-policy.json.
To run it:  EVENTFERRY_SMOKE_CONFIRM=yes make smoke-aws
smoke-aws: not run (EVENTFERRY_SMOKE_CONFIRM is not yes)
EOF
  exit 2
fi

# Other EVENTFERRY_* settings in the caller's environment (a sink, --dry-run, a queue name, ...) would
# change what the commands below do; only the region and the endpoint are taken from there.
while read -r var; do
  case "$var" in
    EVENTFERRY_SMOKE_* | EVENTFERRY_REGION | EVENTFERRY_ENDPOINT_URL) ;;
    *) unset "$var" ;;
  esac
done < <(compgen -e | grep '^EVENTFERRY_' || true)

run=.run/smoke/$name
mkdir -p "$run"
step_name=start
driver=""
listing_clean=0

step() {
  step_name=$1
  shift
  printf '== smoke-aws: %s: %s (%d s)\n' "$step_name" "$*" $((SECONDS - started))
}
fail() {
  printf 'smoke-aws: step %s failed: %s\n' "$step_name" "$*" >&2
  exit 1
}
show_driver_log() {
  echo "   driver stderr ($run/driver.log), last lines:" >&2
  tail -n 15 "$run/driver.log" 2>/dev/null | sed 's/^/     /' >&2 || true
}
# `wait_for SECONDS DESCRIPTION COMMAND...`: run COMMAND every second until it succeeds; fails the
# step after SECONDS, adding the contents of the file $wait_detail if set. Fails at once if the
# driver it watches has exited.
wait_detail=""
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    if [ -n "$driver" ] && ! kill -0 "$driver" 2>/dev/null; then
      show_driver_log
      fail "the driver exited while waiting for $what"
    fi
    [ $SECONDS -lt $deadline ] || fail "no $what after $limit s${wait_detail:+ (last: $(paste -sd ';' "$wait_detail" 2>/dev/null))}"
    sleep 1
  done
}

# The listing check: `status` says the queue is gone (exit 1 with exists=false) and no rules are
# left; `cleanup --dry-run` finds nothing. Quiet; prints the findings into $run/listing.
listing_is_clean() {
  local status_rc=0 cleanup_rc=0
  "$bin" status --queue-name "$name" --instance "$name" --json >"$run/status-after.json" 2>"$run/status-after.err" || status_rc=$?
  "$bin" cleanup --owner "$name" --queue-prefix "$name" --dry-run >"$run/cleanup-dry.out" 2>&1 || cleanup_rc=$?
  python3 - "$run/status-after.json" "$status_rc" "$run/cleanup-dry.out" "$cleanup_rc" >"$run/listing" <<'PY'
import json, sys
status_file, status_rc, cleanup_file, cleanup_rc = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
problems = []
try:
    s = json.load(open(status_file))
    if status_rc != 1 or s["queue"]["exists"] is not False:
        problems.append(f"status: queue {s['queue']['name']} still exists (exit {status_rc})")
    if s["rules"]:
        problems.append("status: rules left: " + ", ".join(r["name"] for r in s["rules"]))
except (ValueError, KeyError, TypeError):
    problems.append(f"status printed no JSON (exit {status_rc}): see {status_file[:-5]}.err")
cleanup = open(cleanup_file).read().strip()
if cleanup_rc != 0 or cleanup != "nothing to delete":
    problems.append(f"cleanup --dry-run (exit {cleanup_rc}): " + cleanup.replace("\n", "; "))
print("\n".join(problems) if problems else "status: queue does not exist, 0 rules; cleanup --dry-run: nothing to delete")
sys.exit(1 if problems else 0)
PY
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
    echo "== smoke-aws: trap: stopping the driver (pid $driver): SIGTERM, SIGKILL after 40 s"
    kill -TERM "$driver" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$driver" 2>/dev/null || break; sleep 1; done
    kill -KILL "$driver" 2>/dev/null
    wait "$driver" 2>/dev/null
  fi
  if [ -n "${bin:-}" ] && [ -x "$bin" ]; then
    echo "== smoke-aws: trap: eventferry cleanup --owner $name --queue-prefix $name --force"
    "$bin" cleanup --owner "$name" --queue-prefix "$name" --force 2>&1 | sed 's/^/   /'
    if [ $listing_clean = 0 ]; then
      # SQS may list a deleted queue for up to 60 s: look again for up to 90 s before saying so.
      local deadline=$((SECONDS + 90))
      until listing_is_clean; do [ $SECONDS -lt $deadline ] || break; sleep 3; done
      echo "== smoke-aws: trap: left behind: $(paste -sd ';' "$run/listing")"
    fi
  fi
  if [ $rc = 0 ]; then
    rm -rf "$run"
    echo "smoke-aws: ok ($((SECONDS - started)) s)"
  else
    echo "   logs: $run/"
    echo "smoke-aws: FAILED at $step_name"
    rc=1
  fi
  exit $rc
}
trap on_exit EXIT
trap 'echo "smoke-aws: interrupted" >&2; exit 1' INT TERM HUP

echo "smoke-aws: against $target"
echo "smoke-aws: queue and instance $name, event source $source"

if [ -n "${EVENTFERRY_SMOKE_BIN:-}" ]; then
  step build "using EVENTFERRY_SMOKE_BIN=$EVENTFERRY_SMOKE_BIN"
  bin=$EVENTFERRY_SMOKE_BIN
else
  step build "cargo build -q --bin eventferry"
  cargo build -q --bin eventferry || fail "cargo build -q --bin eventferry exited non-zero"
  bin=target/debug/eventferry
fi
[ -x "$bin" ] || fail "no executable at $bin"

step provision "eventferry drive (rule for source $source -> queue $name -> stdout), waiting for 'receiving'"
"$bin" drive --event-patterns "[{\"source\":[\"$source\"]}]" --queue-name "$name" --instance "$name" \
  --replica-id smoke --sink stdout --clean-up --duration 5 --drain-timeout 10 \
  >"$run/events.ndjson" 2>"$run/driver.log" </dev/null &
driver=$!
: >>"$run/driver.log" # the driver's redirection may not have created it yet
wait_for 120 "'receiving' on the driver's stderr" grep -q receiving "$run/driver.log"
grep -E '^(created|adopted|updated|removed):' "$run/driver.log" | sed 's/^/   /' || true

step emit "eventferry emit --source $emit_source --count $events"
"$bin" emit --source "$emit_source" --detail-type "eventferry smoke test" \
  --detail "{\"run\":\"$name\"}" --count "$events" >"$run/ids" 2>"$run/emit.err" ||
  fail "eventferry emit exited non-zero: $(tr '\n' ' ' <"$run/emit.err")"
[ "$(grep -c . "$run/ids")" = "$events" ] || fail "eventferry emit printed $(grep -c . "$run/ids") ids, expected $events"
sed 's/^/   id /' "$run/ids"

all_arrived() {
  python3 - "$run/ids" "$run/events.ndjson" "$source" "$name" >"$run/arrived" <<'PY'
import json, sys
ids_file, events_file, source, run = sys.argv[1:]
want = set(open(ids_file).read().split())
got = set()
for line in open(events_file):
    try:
        e = json.loads(line)
    except ValueError:
        continue  # a line still being written
    if e.get("id") in want and e.get("type") == source and e["data"]["detail"].get("run") == run:
        got.add(e["id"])
print(f"{len(got)}/{len(want)}")
sys.exit(0 if got == want else 1)
PY
}
step receive "waiting up to $receive_timeout s for the $events CloudEvents on the driver's stdout"
wait_detail=$run/arrived
wait_for "$receive_timeout" "arrival of all $events events (arrived/emitted)" all_arrived
echo "   arrived $(cat "$run/arrived") (ids and type match)"

status_shows_deployment() {
  "$bin" status --queue-name "$name" --instance "$name" --json >"$run/status.json" 2>"$run/status.err" || return 1
  python3 - "$run/status.json" "$name" "$source" >"$run/status-summary" <<'PY'
import json, sys
s, name, source = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
q, rules, live = s["queue"], s["rules"], s["replicas"]["live"]
ok = (q["exists"] and q["owned"] and len(rules) == 1 and rules[0]["targets"] == [q["arn"]]
      and json.loads(rules[0]["event_pattern"]) == {"source": [source]}
      and [r["replica"] for r in live] == ["smoke"] and len(s["policy_statements"]) == 1)
rule = rules[0]["name"] if rules else "-"
print(f"queue {q['name']} exists={q['exists']} owned={q.get('owned')}; rules: {len(rules)} ({rule});"
      f" policy statements: {len(s['policy_statements'])}; live replicas: {[r['replica'] for r in live]}")
sys.exit(0 if ok else 1)
PY
}
step status "eventferry status --queue-name $name --json: the queue, the rule, one live replica"
if ! status_shows_deployment; then
  sleep 5 # EventBridge's ListRules may lag a rule just created on real AWS: look once more
  status_shows_deployment || fail "eventferry status does not show the deployment: $(cat "$run/status-summary" "$run/status.err" 2>/dev/null)"
fi
echo "   $(cat "$run/status-summary")"

step teardown "SIGTERM to the driver (pid $driver); it drains and, as the last replica, removes what it created"
kill -TERM "$driver"
deadline=$((SECONDS + 60))
while kill -0 "$driver" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the driver did not exit within 60 s of SIGTERM"
  sleep 1
done
driver_rc=0
wait "$driver" || driver_rc=$?
driver=""
[ $driver_rc = 0 ] || { show_driver_log; fail "the driver exited $driver_rc after SIGTERM, expected 0"; }
if ! grep -q "last replica out, removed the resources" "$run/driver.log" ||
  ! grep -q "^deleted queues:.*/$name\$" "$run/driver.log"; then
  show_driver_log
  fail "the driver did not print the teardown ('last replica out, removed the resources' and 'deleted queues: ...$name')"
fi
grep -E "^eventferry drive: (stopped|last replica)|^deleted " "$run/driver.log" | sed 's/^/   /' || true

step listing "eventferry status (queue gone, exit 1; no rules) and eventferry cleanup --owner $name --dry-run (nothing)"
# SQS may still answer for a deleted queue for up to 60 s: bounded at 120 s.
wait_detail=$run/listing
wait_for 120 "clean listing" listing_is_clean
listing_clean=1
echo "   $(cat "$run/listing")"
