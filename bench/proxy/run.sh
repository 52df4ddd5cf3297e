#!/usr/bin/env bash
# Runs the proxy benchmarks one after another, prints what each prints (see README.md) and writes
# their figures into bench/RESULTS.md (report.mjs). The machine's other work moves every figure:
# run them more than once and read medians and spreads.
# Usage: bash bench/proxy/run.sh [times each benchmark runs, default 1]
set -euo pipefail
cd "$(dirname "$0")/../.."

times=${1:-1}

# Each benchmark appends its figures here (lib.mjs's record); report.mjs writes them into RESULTS.md.
export BENCH_JSON=${BENCH_OUT:-$PWD/.cache/bench}/proxy.jsonl
mkdir -p "$(dirname "$BENCH_JSON")"
: >"$BENCH_JSON"

# Anthropic's sandbox-runtime: throughput.mjs and latency.mjs measure its proxy beside ours (srt.mjs).
source bench/srt.sh
export SRT

# run [VAR=value…] script [args…]: the variables go to that benchmark's environment only.
run() {
  local vars=()
  while [[ $1 == *=* ]]; do
    vars+=("$1")
    shift
  done
  echo "== ${vars[*]:+${vars[*]} }node bench/proxy/$*"
  for ((i = 0; i < times; i++)); do env "${vars[@]}" node "bench/proxy/$@"; done
  echo
}

# The hypervisor's share of the CPU (steal, in /proc/stat) moved every figure here by tens of percent
# on a shared VM (bench/RESULTS.md, 2026-11-23): each run says how much it had.
cpu_times() { awk '/^cpu /{ print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat; }
read -r total_before steal_before < <(cpu_times)

run throughput.mjs
run relay-floor.mjs
run latency.mjs
run sse.mjs
run first-host.mjs
run memory.mjs
# The event loop's longest callback, with 4 and 16 new hosts at once, the proxy at real-time priority
# so that its callbacks' time is their own (roles.mjs, watchTasks). The hook that measures it costs
# memory of its own, so memory.mjs above runs without it.
run PROXY_TASKS=1 PROXY_REALTIME=1 memory.mjs 1 1000 4
run PROXY_TASKS=1 PROXY_REALTIME=1 memory.mjs 1 1000 16
run policy.mjs
run credentials.mjs

read -r total_after steal_after < <(cpu_times)
awk -v total=$((total_after - total_before)) -v steal=$((steal_after - steal_before)) -v load="$(cut -d' ' -f1-3 /proc/loadavg)" \
  -v times="$times" -v figures="$BENCH_JSON" \
  'BEGIN {
    printf "machine: steal %.1f%% of the CPU time during the run; load average %s at the end\n", 100 * steal / total, load
    printf "{\"bench\":\"machine\",\"times\":%d,\"stealPercent\":%.2f,\"load\":\"%s\"}\n", times, 100 * steal / total, load >>figures
  }'
node bench/proxy/report.mjs "$BENCH_JSON"
