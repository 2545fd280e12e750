#!/usr/bin/env bash
# The project's own way to install and run LocalStack 4.13.1 in host mode (no Docker).
#
#   infra/localstack/localstack.sh install   # .venv with LocalStack + cargo-lambda, from requirements.lock
#   infra/localstack/localstack.sh up        # start on 127.0.0.1:4566 (idempotent), wait for health
#   infra/localstack/localstack.sh down      # stop the process we started, by PID
#   infra/localstack/localstack.sh status
#
# State lives in .run/: localstack.pid, localstack.log, and LocalStack's own data directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
lock="$root/infra/localstack/requirements.lock"
run="$root/.run"
pidfile="$run/localstack.pid"
logfile="$run/localstack.log"
host=127.0.0.1
port=${LOCALSTACK_PORT:-4566}
health="http://$host:$port/_localstack/health"
wait_secs=${LOCALSTACK_WAIT_SECS:-90}

say() { echo "localstack: $*"; }
die() { echo "localstack: error: $*" >&2; exit 1; }

install() {
  local stamp="$venv/.eventferry-localstack.sha"
  local want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is required (3.11): install it with your system's package manager"
  say "installing LocalStack 4.13.1 and cargo-lambda into $venv (about a minute, once)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
  echo "$want" > "$stamp"
}

our_pid() {
  # The PID we started, if that process still runs.
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

port_in_use() { ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; }

healthy() { curl -fsS --max-time 2 "$health" >/dev/null 2>&1; }

up() {
  local pid
  if pid=$(our_pid); then
    if healthy; then say "already up (pid $pid) on $host:$port"; return 0; fi
    say "our LocalStack (pid $pid) is running but not healthy yet; waiting"
  else
    rm -f "$pidfile"
    if port_in_use; then
      die "port $port is already in use by a process this project did not start:
$(ss -Hltnp "sport = :$port" 2>/dev/null)
Stop that process, or point the tests at it deliberately; this script will not touch it."
    fi
    install
    mkdir -p "$run/localstack-data"
    say "starting LocalStack 4.13.1 (host mode) on $host:$port; log: $logfile"
    # setsid: LocalStack gets its own process group, so 'down' can stop it and its children by our PID.
    # AWS_DEFAULT_REGION: LocalStack's CloudFormation runs the SAM transform in-process, and the
    # transform resolves the partition from boto3's region (AWS_DEFAULT_REGION, not AWS_REGION).
    # Without it, every stack using AWS::Serverless fails with "AWS Region cannot be found".
    # SQS_DELAY_RECENTLY_DELETED=1: AWS's 60-s rule, a queue name can't be re-created for 60 s after
    # DeleteQueue (QueueDeletedRecently); LocalStack allows it at once unless this is set.
    # SQS_DISABLE_CLOUDWATCH_METRICS=1: LocalStack turns every SendMessage, ReceiveMessage and
    # DeleteMessage into a PutMetricData call to its own CloudWatch, on a thread pool. Nothing here
    # reads the AWS/SQS metrics, and after a benchmark's 100,000 messages that backlog kept
    # LocalStack at one full core (and 3 GB) for many minutes, on the cores the next run measures.
    AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}" \
    GATEWAY_LISTEN="$host:$port" \
    SQS_DELAY_RECENTLY_DELETED=1 \
    SQS_DISABLE_CLOUDWATCH_METRICS=1 \
    SQS_ENDPOINT_STRATEGY=path \
    LOCALSTACK_VOLUME_DIR="$run/localstack-data" \
    DNS_ADDRESS=0 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    DISABLE_EVENTS=1 \
    LS_LOG="${LS_LOG:-info}" \
      setsid "$venv/bin/python" -m localstack.runtime.main >"$logfile" 2>&1 </dev/null &
    pid=$!
    echo "$pid" > "$pidfile"
  fi
  local deadline=$((SECONDS + wait_secs))
  while ! healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      echo "--- last lines of $logfile ---" >&2; tail -n 40 "$logfile" >&2
      die "LocalStack exited before it became healthy"
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "--- last lines of $logfile ---" >&2; tail -n 40 "$logfile" >&2
      stop_pid "$pid"
      die "LocalStack did not answer $health within ${wait_secs}s"
    fi
    sleep 0.5
  done
  say "up (pid $pid), healthy at $health"
}

stop_pid() {
  local pid=$1
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid still running after 10s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  # Children in the group that outlived the leader.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

down() {
  local pid
  if pid=$(our_pid); then
    say "stopping pid $pid"
    stop_pid "$pid"
    for _ in $(seq 1 40); do port_in_use || break; sleep 0.25; done
    if port_in_use; then die "port $port is still in use after stopping pid $pid"; fi
    say "down"
  else
    rm -f "$pidfile"
    say "not running (nothing of ours to stop)"
  fi
}

status() {
  local pid
  if pid=$(our_pid); then
    if healthy; then say "up (pid $pid)"; else say "starting or unhealthy (pid $pid)"; fi
  elif port_in_use; then
    say "port $port is held by a process this project did not start"; return 1
  else
    say "down"; return 1
  fi
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
