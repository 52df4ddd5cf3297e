#!/usr/bin/env bash
# Runs the benchmarks and writes their figures into bench/RESULTS.md (see bench/README.md).
# Usage: bash bench/run.sh [agent|closure|seccomp|proxy|report]…   (no argument: all of them)
#   agent    issue 2: jailed-codex's start beside bare codex, node, bwrap and srt (~1.5 min)
#   closure  issue 5: a closure 2,000 store paths larger (~1.5 min)
#   seccomp  issue 5: the seccomp filter's cost on a start and on find over 100,000 files (~1 min)
#   proxy    the proxy benchmarks: bench/proxy/run.sh, when that file exists (owned by bench/proxy)
#   report   only rewrite RESULTS.md from the last raw results (.cache/bench, or $BENCH_OUT)
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
((${#parts[@]})) || parts=(agent closure seccomp proxy)
for part in "${parts[@]}"; do
  if [[ ! $part =~ ^(agent|closure|seccomp|proxy|report)$ ]]; then
    sed -n '3,8s/^# //p' "$0" >&2
    exit 2
  fi
done

# The pinned agents in their cache, bubblewrap, nix and hyperfine: what scripts/start.sh needs too.
bash scripts/setup.sh >&2
for part in "${parts[@]}"; do
  case $part in
  agent | closure | seccomp) bash "bench/start/$part.sh" ;;
  proxy)
    # The hook for bench/proxy: its own entry point, run from the repository's root.
    if [[ -f bench/proxy/run.sh ]]; then
      bash bench/proxy/run.sh
    else
      echo "bench: no bench/proxy/run.sh yet: skipping the proxy benchmarks" >&2
    fi
    ;;
  esac
done
node bench/start/report.mjs >/dev/null
echo "bench: figures written to bench/RESULTS.md (raw results in ${BENCH_OUT:-.cache/bench})" >&2
