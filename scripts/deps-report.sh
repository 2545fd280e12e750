#!/usr/bin/env bash
# Writes docs/dependencies.md: every third-party crate the workspace builds (normal and build
# dependencies, not dev-only), with its version and license, from `cargo tree`.
set -euo pipefail
cd "$(dirname "$0")/.."
list=$(cargo tree --workspace -e normal,build --prefix none -f "{p}|{l}" | sed 's/ (\*)//; s/ (proc-macro)//' \
  | grep -v '^eventferry' | sort -u)
{
  echo "# Dependencies"
  echo
  echo "Made by \`scripts/deps-report.sh\` (\`cargo tree --workspace -e normal,build\`) at commit $(git rev-parse --short HEAD)."
  echo "Dev-only dependencies (proptest, test harness crates) are not listed."
  echo
  echo "## Licenses"
  echo
  echo "| crates | license |"
  echo "|---|---|"
  echo "$list" | cut -d'|' -f2 | sed 's/^$/(none declared)/' | sort | uniq -c | sort -rn | awk '{n=$1; $1=""; sub(/^ /,""); printf "| %s | %s |\n", n, $0}'
  echo
  echo "## Crates"
  echo
  echo "| crate | license |"
  echo "|---|---|"
  echo "$list" | awk -F'|' '{printf "| %s | %s |\n", $1, ($2 == "" ? "(none declared)" : $2)}'
} > docs/dependencies.md
echo "docs/dependencies.md: $(echo "$list" | wc -l) crates"
