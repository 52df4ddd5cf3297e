#!/usr/bin/env bash
# Runs the proxy benchmarks one after another and prints what each prints (see README.md). The
# machine's other work moves every figure: run them more than once and read medians and spreads.
# Usage: bash bench/proxy/run.sh [times each benchmark runs, default 1]
set -euo pipefail
cd "$(dirname "$0")/../.."

times=${1:-1}

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

run throughput.mjs
run latency.mjs
run sse.mjs
run first-host.mjs
run memory.mjs
# The event loop's longest callback in CPU time, with 4 and 16 new hosts at once (the hook that
# measures it costs memory of its own, so memory.mjs above runs without it).
run PROXY_TASKS=1 memory.mjs 1 1000 4
run PROXY_TASKS=1 memory.mjs 1 1000 16
run policy.mjs
run credentials.mjs
