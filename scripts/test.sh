#!/usr/bin/env bash
# The whole test suite: setup, typecheck, lint, then vitest (unit, nix, jail, e2e), ending with the line
# `tests: N passed, N failed, N skipped` read from vitest's JSON report. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 2
source scripts/nix.sh

status=0
npx tsc -p . || status=1
npx biome ci . || status=1

mkdir -p .cache
report=.cache/vitest-report.json
rm -f "$report"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=1
node scripts/test-summary.mjs "$report" || status=1
exit "$status"
