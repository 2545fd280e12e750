#!/usr/bin/env bash
# The README's SAM path, against LocalStack: `sam build`, then `sam deploy` with DeployRouter=false
# (LocalStack cannot run Lambda without Docker) under a 128-character stack name (the most
# CloudFormation allows), then checks that the stack's outputs name a queue, a DLQ and a rule that
# exist, the rule's generated name within EventBridge's 64 characters, that an event the rule
# selects reaches the queue, then `sam delete`, and checks that nothing is left: no stack, queue,
# rule or artifact bucket.
#
#   scripts/sam-deploy-check.sh      # LocalStack must be up on $AWS_ENDPOINT_URL (make test starts it)
#
# Uses the SAM CLI in .venv-sam/ (scripts/validate.sh installs it) and boto3 from .venv/ (LocalStack's).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "sam-deploy-check: $*"; }
die() { echo "sam-deploy-check: error: $*" >&2; exit 1; }

"$root/scripts/validate.sh" install-sam
[ -x "$root/.venv/bin/python" ] || die ".venv/ is missing: run make install"
export PATH="$root/.venv/bin:$root/.venv-sam/bin:$PATH"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1} AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} SAM_CLI_TELEMETRY=0
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

cleanup() {
  local rc=$?
  sam delete --stack-name "$stack" --no-prompts >/dev/null 2>&1 || true
  py "$bucket" <<'EOF' || true
import sys, boto3
b = boto3.resource("s3").Bucket(sys.argv[1])
try:
    b.objects.all().delete(); b.delete()
except Exception:
    pass
EOF
  rm -rf "$build_dir"
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

py "$stack" "$queue" "$build_dir/rule-name" <<'EOF'
import json, sys, time, boto3
stack, queue, rule_file = sys.argv[1:4]
cf, sqs, ev = (boto3.client(s) for s in ("cloudformation", "sqs", "events"))
out = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
for key in ("QueueUrl", "QueueArn", "DeadLetterQueueUrl", "DeadLetterQueueArn", "PatternRuleArn", "PatternRuleName"):
    assert key in out, f"output {key} missing; outputs: {sorted(out)}"
assert "RouterFunctionArn" not in out, "DeployRouter=false still output a router"
url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert attrs["QueueArn"] == out["QueueArn"], (attrs["QueueArn"], out["QueueArn"])
assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == out["DeadLetterQueueArn"]
rule = out["PatternRuleName"]
assert 1 <= len(rule) <= 64, f"rule name {rule!r} is {len(rule)} characters (EventBridge: 1 to 64)"
assert out["PatternRuleArn"].endswith(":rule/" + rule), (out["PatternRuleArn"], rule)
open(rule_file, "w").write(rule)
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

say "sam delete --stack-name $stack"
rule=$(cat "$build_dir/rule-name")
timeout 600 sam delete --stack-name "$stack" --no-prompts >/dev/null 2>&1 || die "sam delete of $stack failed"
py "$stack" "$queue" "$rule" <<'EOF'
import sys, boto3
stack, queue, rule = sys.argv[1:4]
cf, sqs, ev = (boto3.client(s) for s in ("cloudformation", "sqs", "events"))
live = [s["StackName"] for s in cf.list_stacks()["StackSummaries"]
        if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"]
queues = [u for u in sqs.list_queues(QueueNamePrefix=queue).get("QueueUrls", [])]
rules = [r["Name"] for r in ev.list_rules(NamePrefix=rule).get("Rules", [])]
assert not live and not queues and not rules, (live, queues, rules)
print(f"sam-deploy-check: after sam delete: 0 stacks, 0 queues named {queue}*, no rule {rule}")
EOF
