#!/usr/bin/env bash
# make validate: lint template.yaml with the SAM CLI, then build the router for Lambda.
#
#   scripts/validate.sh            # both steps
#   scripts/validate.sh lint       # only sam validate --lint
#   scripts/validate.sh build      # only cargo lambda build
#   scripts/validate.sh install-sam  # only install the SAM CLI into .venv-sam/
#
# The SAM CLI lives in its own venv, .venv-sam/ (git-ignored), installed from infra/sam/requirements.lock
# (its pins conflict with LocalStack's, which live in .venv/). Installed once, re-installed when the
# lock changes. cargo-lambda and zig come from .venv/ (infra/localstack/localstack.sh install).
# Everything runs offline: no AWS credentials, no calls to AWS.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv="$root/.venv-sam"
lock="$root/infra/sam/requirements.lock"
what=${1:-all}

say() { echo "validate: $*"; }
die() { echo "validate: error: $*" >&2; exit 1; }

install_sam() {
  local stamp="$venv/.eventferry-sam.sha" want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -x "$venv/bin/sam" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is required (3.11): install it with your system's package manager"
  say "installing aws-sam-cli into $venv from $lock (a minute or two, once)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
  echo "$want" > "$stamp"
}

lint() {
  install_sam
  say "sam validate --lint --template template.yaml"
  # Offline: a region is all sam needs to lint; no credentials are read. No telemetry.
  env -u AWS_PROFILE -u AWS_ENDPOINT_URL \
    AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
    "$venv/bin/sam" validate --lint --template template.yaml
}

build() {
  "$root/infra/localstack/localstack.sh" install
  export PATH="$root/.venv/bin:$PATH"
  local arch=--arm64 target=aarch64-unknown-linux-gnu label=arm64
  if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    if ! rustup target add "$target" >/dev/null 2>&1; then
      say "WARNING: the $target target cannot be installed here (rustup dist server unreachable?);"
      say "WARNING: building x86_64 instead. Lambda needs the arm64 build: the template says arm64."
      arch=--x86-64 label=x86_64
    fi
  fi
  say "cargo lambda build --release $arch --bin router"
  cargo lambda build --release "$arch" --bin router
  local bootstrap="$root/target/lambda/router/bootstrap"
  [ -f "$bootstrap" ] || die "$bootstrap was not built"
  say "router bootstrap ($label): $(stat -c %s "$bootstrap") bytes ($(du -h "$bootstrap" | cut -f1)) at target/lambda/router/bootstrap"
  if command -v file >/dev/null; then say "$(file -b "$bootstrap")"; fi
}

case "$what" in
  all) lint; build ;;
  lint) lint ;;
  install-sam) install_sam ;;
  build) build ;;
  *) die "usage: scripts/validate.sh [all|lint|build|install-sam]" ;;
esac
