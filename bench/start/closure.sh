#!/usr/bin/env bash
# Issue 2's closure budget: a jail whose closure holds 2,000 more store paths starts under 20 ms
# later. Also times bubblewrap alone with the same binds, and the wrapper at a few closure sizes
# in between, to show how the cost grows.
# Usage (from the repository's root): bash bench/start/closure.sh
set -euo pipefail
source bench/start/common.sh
record_machine

shell=$(build shell)/bin/jailed-bench-shell
many=$(build shellWithPaths)/bin/jailed-bench-shell
many_config=$(build shellWithPaths.configFile)
many_paths=$(node -p 'require(process.argv[1]).storePaths' "$many_config")
bash_bin=$(node -p 'require(process.argv[1]).tools.sh' "$many_config")
# Too long for one argument (2,000 binds): bwrap reads them from `--args FD`, as the runtime passes them.
bwrap_options <"$many_paths" | tr '\n' '\0' >"$OUT/closure-bwrap.args"
raw_many="/bin/sh -c \"exec $(build bubblewrap)/bin/bwrap --args 9 $bash_bin -c true 9<$OUT/closure-bwrap.args\""
curve=()
for paths in 100 250 500 1000; do
  curve+=(-n "jailed shell -c true, +$paths paths"
    "$(build shellWithPaths --arg paths "$paths")/bin/jailed-bench-shell -c true")
done

enter_sandbox
# 60 runs of each, as 30 rounds of 2 in alternating order (see bench_rounds).
bench_rounds closure 30 "-N --warmup 1 --runs 2" \
  "jailed shell -c true" "$shell -c true" \
  "jailed shell -c true, +2000 paths" "$many -c true"
bench_hyperfine closure-curve -N --warmup 1 --runs 10 "${curve[@]}"
# Seconds a run (see RESULTS.md): a few runs suffice.
bench_hyperfine closure-bwrap -N --runs 3 \
  -n "bwrap alone, the same $(wc -l <"$many_paths") store paths: bash -c true" "$raw_many"
