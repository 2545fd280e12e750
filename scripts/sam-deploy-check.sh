#!/usr/bin/env bash
# The README's SAM path, against LocalStack: `sam build`, then `sam deploy` with DeployRouter=false
# (LocalStack cannot run Lambda without Docker) under a 128-character stack name (the most
# CloudFormation allows), then checks that the stack's outputs name a queue, a DLQ and a rule that
# exist, the rule's generated name within EventBridge's 64 characters, that an event the rule
# selects reaches the queue, then `sam delete`, and checks that nothing is left: no stack, queue,
# rule or artifact bucket, and no subscription-store bucket: the deployed template retains it
# (DeletionPolicy: Retain, checked), so where it outlives the stack (AWS) the script empties and
# deletes it as docs/deploy.md says; LocalStack 4.13.1 ignores DeletionPolicy and deletes it.
#
# The router's artifact finds its subscriptions with nothing bundled by hand (#17): sam build's
# RouterFunction directory holds only `bootstrap`; the built template's RouterFunction, evaluated
# against the deployed stack, sets EVENTFERRY_SUBSCRIPTIONS_STORE to the stack's store (the
# SubscriptionsStore output) and neither EVENTFERRY_SUBSCRIPTIONS nor _FILE. LocalStack cannot run
# the deployed function, so the same router built for this host runs under `cargo lambda watch`
# with exactly that environment (the Refs resolved from the deployed stack; RetryQueue, which
# DeployRouter=false leaves out, is a stand-in queue of the name the stack would give it);
# `eventferry subscriptions create` on the SubscriptionsStore output adds an HTTP subscription; the
# router logs "serving subscriptions version ..." for the stack's store and delivers an event to it.
#
#   scripts/sam-deploy-check.sh      # LocalStack must be up on $AWS_ENDPOINT_URL (make test starts it)
#
# Uses the SAM CLI in .venv-sam/ (scripts/validate.sh installs it; its python reads the built
# template), boto3 and cargo-lambda from .venv/ (make install), and builds target/debug/eventferry
# and target/debug/router (nothing to do after make test's build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "sam-deploy-check: $*"; }
die() { echo "sam-deploy-check: error: $*" >&2; exit 1; }

"$root/scripts/validate.sh" install-sam
[ -x "$root/.venv/bin/python" ] || die ".venv/ is missing: run make install"
[ -x "$root/.venv/bin/cargo-lambda" ] || die "cargo-lambda is missing from .venv/bin: run make install"
export PATH="$root/.venv/bin:$root/.venv-sam/bin:$PATH"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1} AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} SAM_CLI_TELEMETRY=0
unset AWS_PROFILE
curl -fsS --max-time 5 "$AWS_ENDPOINT_URL/_localstack/health" >/dev/null \
  || die "LocalStack is not answering on $AWS_ENDPOINT_URL: run make localstack-up"

suffix="$(date +%s)-$$"
# Padded to 128 characters: the template must not build names from the stack name.
stack="eventferry-samcheck-$suffix-$(printf 'n%.0s' $(seq 1 128))"
stack=${stack:0:128}
queue="eventferry-samcheck-$suffix"
bucket="eventferry-samcheck-artifacts-$suffix"
build_dir=$(mktemp -d)
py() { "$root/.venv/bin/python" - "$@"; }
watch_pid=""
http_pid=""

cleanup() {
  local rc=$?
  # Our own processes, by their ids: watch leads its own process group (setsid); the receiver.
  if [ -n "$watch_pid" ]; then kill -TERM -- "-$watch_pid" 2>/dev/null || true; fi
  if [ -n "$http_pid" ]; then kill -TERM "$http_pid" 2>/dev/null || true; fi
  sam delete --stack-name "$stack" --no-prompts >/dev/null 2>&1 || true
  # The artifact bucket, the store's bucket (retained by the stack) and the stand-in retry queue.
  py "$queue-retry" "$bucket" $(cat "$build_dir/store-bucket" 2>/dev/null) <<'EOF' || true
import sys, boto3
sqs = boto3.client("sqs")
for url in sqs.list_queues(QueueNamePrefix=sys.argv[1]).get("QueueUrls", []):
    sqs.delete_queue(QueueUrl=url)
for name in sys.argv[2:]:
    b = boto3.resource("s3").Bucket(name)
    try:
        b.objects.all().delete(); b.delete()
    except Exception:
        pass
EOF
  if [ -n "$watch_pid" ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$watch_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$watch_pid" 2>/dev/null || true
  fi
  rm -rf "$build_dir" "$build_dir.log"
  exit $rc
}
trap cleanup EXIT

if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  say "sam build --build-dir $build_dir"
  timeout 1200 sam build --build-dir "$build_dir" >"$build_dir.log" 2>&1 \
    || { cat "$build_dir.log" >&2; rm -f "$build_dir.log"; die "sam build failed"; }
  rm -f "$build_dir.log"
else
  # No arm64 target here (scripts/validate.sh said why): sam build cannot run. Lay out what it would
  # make from the bootstrap validate built, so the deploy path is still checked.
  say "WARNING: no aarch64-unknown-linux-gnu target: skipping sam build, packaging target/lambda/router/bootstrap"
  [ -f target/lambda/router/bootstrap ] || die "target/lambda/router/bootstrap is missing: run make validate"
  mkdir -p "$build_dir/RouterFunction"
  cp target/lambda/router/bootstrap "$build_dir/RouterFunction/bootstrap"
  sed 's|^      CodeUri: \.$|      CodeUri: RouterFunction|' template.yaml > "$build_dir/template.yaml"
  grep -q 'CodeUri: RouterFunction' "$build_dir/template.yaml" || die "template.yaml has no 'CodeUri: .' line"
fi
[ -f "$build_dir/RouterFunction/bootstrap" ] || die "sam build made no RouterFunction/bootstrap"
say "built $(stat -c %s "$build_dir/RouterFunction/bootstrap")-byte bootstrap"
# The artifact is the bootstrap alone: no subscriptions file is bundled, and none is needed.
artifact=$(cd "$build_dir/RouterFunction" && find . -mindepth 1 | sort | tr '\n' ' ')
[ "$artifact" = "./bootstrap " ] || die "sam build's RouterFunction holds more than bootstrap: $artifact"
say "sam build's RouterFunction directory holds only bootstrap (no subscriptions file)"

py "$bucket" <<'EOF'
import sys, boto3
boto3.client("s3").create_bucket(Bucket=sys.argv[1])
EOF
say "sam deploy --stack-name $stack DeployRouter=false"
timeout 600 sam deploy --template-file "$build_dir/template.yaml" --stack-name "$stack" \
  --s3-bucket "$bucket" --capabilities CAPABILITY_IAM --no-confirm-changeset \
  --parameter-overrides DeployRouter=false "QueueName=$queue" \
  'EventPattern="{\"source\":[\"eventferry.samcheck\"],\"detail-type\":[\"Checked\"]}"' >/dev/null 2>&1 \
  || die "sam deploy of $stack failed"

py "$stack" "$queue" "$build_dir" <<'EOF'
import json, sys, time, boto3
stack, queue, build_dir = sys.argv[1:4]
cf, sqs, ev = (boto3.client(s) for s in ("cloudformation", "sqs", "events"))
out = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
for key in ("QueueUrl", "QueueArn", "DeadLetterQueueUrl", "DeadLetterQueueArn", "PatternRuleArn", "PatternRuleName",
            "SubscriptionsStore", "SubscriptionsBucketName"):
    assert key in out, f"output {key} missing; outputs: {sorted(out)}"
assert "RouterFunctionArn" not in out, "DeployRouter=false still output a router"
assert out["SubscriptionsStore"] == f"s3://{out['SubscriptionsBucketName']}/subscriptions.json", out["SubscriptionsStore"]
open(f"{build_dir}/store-bucket", "w").write(out["SubscriptionsBucketName"])
open(f"{build_dir}/store", "w").write(out["SubscriptionsStore"])
url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert attrs["QueueArn"] == out["QueueArn"], (attrs["QueueArn"], out["QueueArn"])
assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == out["DeadLetterQueueArn"]
rule = out["PatternRuleName"]
assert 1 <= len(rule) <= 64, f"rule name {rule!r} is {len(rule)} characters (EventBridge: 1 to 64)"
assert out["PatternRuleArn"].endswith(":rule/" + rule), (out["PatternRuleArn"], rule)
open(f"{build_dir}/rule-name", "w").write(rule)
targets = ev.list_targets_by_rule(Rule=rule)["Targets"]
assert [t["Arn"] for t in targets] == [out["QueueArn"]], targets
entries = [
    {"Source": "eventferry.samcheck", "DetailType": "Checked", "Detail": json.dumps({"n": 1})},
    {"Source": "eventferry.other", "DetailType": "Checked", "Detail": json.dumps({"n": 2})},
]
assert ev.put_events(Entries=entries)["FailedEntryCount"] == 0
got, deadline = [], time.time() + 30
while time.time() < deadline and not got:
    for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", []):
        got.append(json.loads(m["Body"]))
time.sleep(2)
for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
    got.append(json.loads(m["Body"]))
assert [g["source"] for g in got] == ["eventferry.samcheck"], (got, ev.describe_rule(Name=rule))
print(f"sam-deploy-check: stack of {len(stack)} characters: outputs {len(out)}, rule {rule} ({len(rule)} characters) -> queue {queue}; 1 of 2 events arrived (the one the pattern selects)")
EOF
store=$(cat "$build_dir/store")

# --- The router as the built template configures it, against the deployed stack's store. ---
say "cargo build --bin router --bin eventferry (for this host: LocalStack cannot run the arm64 function)"
timeout 1800 cargo build -q --bin router --bin eventferry || die "cargo build of router/eventferry failed"
# RetryQueue is left out with DeployRouter=false: a stand-in of the name the stack would give it.
py "$queue-retry" <<'EOF' >/dev/null
import sys, boto3
boto3.client("sqs").create_queue(QueueName=sys.argv[1])
EOF
# The environment of the built template's RouterFunction, every intrinsic resolved from the stack.
"$root/.venv-sam/bin/python" - "$build_dir/template.yaml" "$stack" "$queue-retry" "$build_dir/router.env" <<'EOF'
import shlex, sys, boto3
from samcli.yamlhelper import yaml_parse
template_file, stack, retry_queue, env_file = sys.argv[1:5]
t = yaml_parse(open(template_file).read())
cf = boto3.client("cloudformation")
described = cf.describe_stacks(StackName=stack)["Stacks"][0]
params = {k: v.get("Default") for k, v in t["Parameters"].items()}
params.update({p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])})
region = boto3.session.Session().region_name
account = described["StackId"].split(":")[4]
physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cf.describe_stack_resources(StackName=stack)["StackResources"]}
# Not deployed with DeployRouter=false: the stand-in queue.
physical.setdefault("RetryQueue", boto3.client("sqs").get_queue_url(QueueName=retry_queue)["QueueUrl"])
NOVALUE = object()
pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
          "AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NOVALUE}

def ref(name):
    if name in pseudo:
        return pseudo[name]
    if name in params:
        kind = t["Parameters"][name].get("Type", "String")
        value = "" if params[name] is None else str(params[name])
        return value.split(",") if kind == "CommaDelimitedList" else value
    if name in physical:
        return physical[name]
    raise SystemExit(f"sam-deploy-check: error: the built RouterFunction refers to {name}, which the stack does not hold")

def cond(name):
    return bool(ev(t["Conditions"][name]))

def sub(text):
    import re
    return re.sub(r"\$\{([^}!][^}]*)\}", lambda m: str(ref(m.group(1))), text)

def ev(x):
    if isinstance(x, dict) and len(x) == 1:
        (k, v), = x.items()
        if k == "Ref": return ref(v)
        if k == "Condition": return cond(v)
        if k == "Fn::If": return ev(v[1]) if cond(v[0]) else ev(v[2])
        if k == "Fn::Join": return v[0].join(str(ev(p)) for p in ev(v[1]) if p is not NOVALUE)
        if k == "Fn::Sub" and isinstance(v, str): return sub(v)
        if k == "Fn::Equals": return ev(v[0]) == ev(v[1])
        if k == "Fn::Not": return not ev(v[0])
        if k == "Fn::And": return all(ev(c) for c in v)
        if k == "Fn::Or": return any(ev(c) for c in v)
        if k.startswith("Fn::"): raise SystemExit(f"sam-deploy-check: error: {k} is not evaluated here")
    if isinstance(x, dict):
        return {k: e for k, e in ((k, ev(v)) for k, v in x.items()) if e is not NOVALUE}
    if isinstance(x, list):
        return [ev(i) for i in x]
    return x

fn = t["Resources"]["RouterFunction"]["Properties"]
env = {k: str(v) for k, v in ev(fn["Environment"]["Variables"]).items()}
bucket = physical["SubscriptionsBucket"]
want = f"s3://{bucket}/subscriptions.json"
outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
assert env.get("EVENTFERRY_SUBSCRIPTIONS_STORE") == want == outputs["SubscriptionsStore"], (env, outputs)
for other in ("EVENTFERRY_SUBSCRIPTIONS", "EVENTFERRY_SUBSCRIPTIONS_FILE"):
    assert other not in env, f"the built RouterFunction sets {other} by default: {env}"
with open(env_file, "w") as f:
    for k, v in sorted(env.items()):
        f.write(f"export {k}={shlex.quote(v)}\n")
print(f"sam-deploy-check: the built RouterFunction's environment on this stack: "
      f"EVENTFERRY_SUBSCRIPTIONS_STORE={env['EVENTFERRY_SUBSCRIPTIONS_STORE']} (the SubscriptionsStore output), "
      f"no EVENTFERRY_SUBSCRIPTIONS or _FILE; {len(env)} variables: {', '.join(sorted(env))}")
EOF

# An HTTP receiver for the subscription: records each request's ce-id, answers 200.
"$root/.venv/bin/python" -u - "$build_dir/received" "$build_dir/http-port" <<'EOF' >"$build_dir/http.log" 2>&1 &
import http.server, sys
received, port_file = sys.argv[1:3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(received, "a") as f:
            f.write(f"{self.headers.get('ce-id')} {self.headers.get('ce-type')}\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
http_pid=$!
for _ in $(seq 1 50); do [ -s "$build_dir/http-port" ] && break; sleep 0.2; done
http_port=$(cat "$build_dir/http-port") || die "the HTTP receiver did not start: $(cat "$build_dir/http.log")"

ce_type="eventferry.samcheck.checked"
say "eventferry subscriptions create samcheck-http --event-type $ce_type --http http://127.0.0.1:$http_port/events (store: the SubscriptionsStore output)"
EVENTFERRY_SUBSCRIPTIONS_STORE="$store" timeout 60 target/debug/eventferry subscriptions create samcheck-http \
  --event-type "$ce_type" --http "http://127.0.0.1:$http_port/events" >"$build_dir/create.log" 2>&1 \
  || die "subscriptions create failed: $(cat "$build_dir/create.log")"

watch_port=$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "cargo lambda watch on 127.0.0.1:$watch_port with the built RouterFunction's environment"
(
  # Only the built template's variables on top of the AWS settings for LocalStack.
  for v in $(env | grep -o '^EVENTFERRY_[A-Z_]*' || true); do unset "$v"; done
  unset RUST_LOG
  # shellcheck disable=SC1091
  . "$build_dir/router.env"
  exec setsid cargo-lambda lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$watch_port"
) >"$build_dir/watch.log" 2>&1 </dev/null &
watch_pid=$!
event_id="samcheck-$suffix"
event=$(printf '{"specversion":"1.0","id":"%s","source":"/sam-deploy-check","type":"%s","datacontenttype":"application/json","data":{"n":1}}' "$event_id" "$ce_type")
deadline=$((SECONDS + 180))
until curl -fsS --max-time 60 -o "$build_dir/answer" -X POST \
    "http://127.0.0.1:$watch_port/2015-03-31/functions/router/invocations" -d "$event" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || die "the router under cargo lambda watch did not answer in 180 s; its log: $(tail -n 20 "$build_dir/watch.log")"
  sleep 1
done
deadline=$((SECONDS + 30))
until grep -q "^$event_id $ce_type\$" "$build_dir/received" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || die "the subscription's HTTP target did not get $event_id; the router answered $(cat "$build_dir/answer"); its log: $(tail -n 20 "$build_dir/watch.log")"
  sleep 0.5
done
# The router's JSON log lines: the version it serves (of the stack's store, with the 1
# subscription) and the delivery to samcheck-http.
py "$build_dir/watch.log" "$store" <<'EOF' || die "the router's log does not show it serving $store; its log: $(tail -n 20 "$build_dir/watch.log")"
import json, sys
log, store = sys.argv[1:3]
lines = []
for text in open(log, errors="replace"):
    try:
        lines.append(json.loads(text[text.index("{"):]))
    except ValueError:
        pass
fields = [l.get("fields", {}) for l in lines if isinstance(l, dict)]
served = [f for f in fields if str(f.get("message", "")).startswith("serving subscriptions version")]
assert served, "no 'serving subscriptions version' line"
assert served[0].get("store") == store and served[0].get("subscriptions") == 1, served[0]
results = [f for f in fields if f.get("message") == "invocation result" and f.get("subscription") == "samcheck-http"]
assert results and results[0].get("status") == "succeeded", results
print(f"sam-deploy-check: the router logged {served[0]['message']!r} (store {store}, "
      f"{served[0]['subscriptions']} subscription) and 'invocation result' subscription=samcheck-http "
      f"target={results[0].get('target')!r} status={results[0].get('status')}")
EOF
say "event $event_id reached samcheck-http through the router run with the built RouterFunction's environment"
kill -TERM -- "-$watch_pid" 2>/dev/null || true
for _ in $(seq 1 10); do kill -0 -- "-$watch_pid" 2>/dev/null || break; sleep 1; done
kill -KILL -- "-$watch_pid" 2>/dev/null || true
watch_pid=""
kill -TERM "$http_pid" 2>/dev/null || true
http_pid=""

# The deployed template (after the SAM transform) retains the store's bucket.
py "$stack" <<'EOF'
import sys, boto3, yaml
body = boto3.client("cloudformation").get_template(StackName=sys.argv[1], TemplateStage="Processed")["TemplateBody"]
t = body if isinstance(body, dict) else yaml.safe_load(body)
b = t["Resources"]["SubscriptionsBucket"]
assert (b.get("DeletionPolicy"), b.get("UpdateReplacePolicy")) == ("Retain", "Retain"), b
print("sam-deploy-check: the deployed template retains SubscriptionsBucket (DeletionPolicy and UpdateReplacePolicy Retain)")
EOF

say "sam delete --stack-name $stack"
rule=$(cat "$build_dir/rule-name")
store_bucket=$(cat "$build_dir/store-bucket")
timeout 600 sam delete --stack-name "$stack" --no-prompts >/dev/null 2>&1 || die "sam delete of $stack failed"
py "$stack" "$queue" "$rule" "$store_bucket" "$bucket" <<'EOF'
import sys, boto3, botocore
stack, queue, rule, store_bucket, artifacts = sys.argv[1:6]
cf, sqs, ev, s3 = (boto3.client(s) for s in ("cloudformation", "sqs", "events", "s3"))
live = [s["StackName"] for s in cf.list_stacks()["StackSummaries"]
        if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"]
# The stand-in retry queue is ours, not the stack's: removed before looking.
for url in sqs.list_queues(QueueNamePrefix=queue + "-retry").get("QueueUrls", []):
    sqs.delete_queue(QueueUrl=url)
queues = [u for u in sqs.list_queues(QueueNamePrefix=queue).get("QueueUrls", [])]
rules = [r["Name"] for r in ev.list_rules(NamePrefix=rule).get("Rules", [])]
assert not live and not queues and not rules, (live, queues, rules)
# On AWS the store's bucket outlives the stack (DeletionPolicy: Retain), with the subscriptions in
# it, and is removed as docs/deploy.md says: empty it, then delete it. LocalStack 4.13.1 ignores
# DeletionPolicy and deletes it with the stack.
try:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=store_bucket).get("Contents", [])]
    assert keys == ["subscriptions.json"], f"the retained store bucket {store_bucket} holds {keys}"
    s3.delete_object(Bucket=store_bucket, Key="subscriptions.json")
    s3.delete_bucket(Bucket=store_bucket)
    store_note = "the store bucket was retained with subscriptions.json, then emptied and deleted"
except s3.exceptions.NoSuchBucket:
    store_note = "the store bucket went with the stack (LocalStack ignores DeletionPolicy; AWS retains it)"
b = boto3.resource("s3").Bucket(artifacts)
b.objects.all().delete(); b.delete()
left = []
for name in (store_bucket, artifacts):
    try:
        s3.head_bucket(Bucket=name)
        left.append(name)
    except botocore.exceptions.ClientError:
        pass
assert not left, f"buckets left: {left}"
print(f"sam-deploy-check: after sam delete: 0 stacks, 0 queues named {queue}*, no rule {rule}; "
      f"{store_note}; 0 buckets left")
EOF
