# Sourced by the start-up benchmarks (run from the repository's root).
# shellcheck shell=bash
source scripts/nix.sh

REPO=$PWD
# Raw hyperfine exports and the exact invocations; bench/start/report.mjs turns them into RESULTS.md.
OUT=${BENCH_OUT:-$REPO/.cache/bench}
# Outside the repository: the pinned sandbox-runtime install and the 100,000-file tree.
CACHE=/var/cache/jailed/bench
mkdir -p "$OUT" "$CACHE"

# Builds an attribute of bench/start/jails.nix against the offline nixpkgs stand-in; prints its path.
build() {
  nix-build --no-out-link "$REPO/bench/start/jails.nix" -A "$@"
}

# What the figures depend on (CPU, kernel, bwrap and node versions), for RESULTS.md.
record_machine() {
  node bench/start/machine.mjs "$(build bubblewrap)/bin/bwrap" "$(build nodejs)/bin/node" >"$OUT/machine.json"
}

# The jails refuse to run with the home as the working directory, and codex writes to ~/.codex:
# every benchmark runs in a project directory of its own with a throwaway HOME.
enter_sandbox() {
  SANDBOX=$(mktemp -d /var/tmp/jailed-bench.XXXXXX)
  trap 'rm -rf "$SANDBOX"' EXIT
  mkdir "$SANDBOX/home" "$SANDBOX/project"
  export HOME=$SANDBOX/home
  cd "$SANDBOX/project"
}

# bwrap's options, one a line, for a jail set up as the runtime sets up its jails (same namespaces,
# a fresh /dev, /proc and /tmp) holding the store paths read on stdin, one a line, read-only.
bwrap_options() {
  local path
  printf '%s\n' --unshare-all --unshare-user --die-with-parent --clearenv
  while read -r path; do printf -- '--ro-bind\n%s\n%s\n' "$path" "$path"; done
  printf '%s\n' --dev /dev --proc /proc --tmpfs /tmp
}

# bwrap's own start: the smallest jail that runs a store binary, coreutils' closure. Prints bwrap and
# its options on one line; the caller appends the command.
minimal_jail() {
  local options
  options=$(nix-store -qR "$(build coreutils)" | bwrap_options)
  printf '%s %s' "$(build bubblewrap)/bin/bwrap" "${options//$'\n'/ }"
}

# Removes a bench's earlier results (NAME.json, or its rounds NAME.1.json …), which the report
# would otherwise pool with the new ones.
forget() {
  rm -f "$OUT/$1".json "$OUT/$1".invocation "$OUT/$1".[0-9]*.json "$OUT/$1".[0-9]*.invocation
}

# Runs hyperfine and keeps its exact invocation beside the export, for RESULTS.md and re-runs.
# Usage: bench_hyperfine NAME [hyperfine options and commands…]; exports $OUT/NAME.json.
# At nice -10 (as root; others get a warning and normal priority): other work on a small shared
# machine then disturbs the timings less.
bench_hyperfine() {
  local name=$1
  shift
  forget "$name"
  local invocation=(nice -n -10 hyperfine --export-json "$OUT/$name.json" "$@") arg words=()
  for arg in "${invocation[@]}"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=+,-]+$ ]]; then words+=("$arg"); else words+=("${arg@Q}"); fi
  done
  printf 'cd %s && HOME=%s %s\n' "$PWD" "$HOME" "${words[*]}" >"$OUT/$name.invocation"
  "${invocation[@]}"
}

# hyperfine's `-n NAME COMMAND` arguments for NAME COMMAND pairs, in order or backwards.
# Usage: named forward|backward NAME1 COMMAND1 NAME2 COMMAND2 …   (NUL-separated, for mapfile -d '')
named() {
  local order=$1 args=()
  shift
  while (($#)); do
    if [[ $order == backward ]]; then args=(-n "$1" "$2" "${args[@]}"); else args+=(-n "$1" "$2"); fi
    shift 2
  done
  printf '%s\0' "${args[@]}"
}

# hyperfine runs one command after the other, so on a shared machine a burst of other work lands on
# whichever command was running. This runs the commands in ROUNDS hyperfine runs, alternately in
# order and backwards, exported as NAME.1.json, NAME.2.json, …; the report pools their times. Keep
# the rounds short (a run or two of each): in rounds of 10, the machine's drift over a round made
# the command measured second come out slower (bench/RESULTS.md, the closure runs of 21:08–21:14).
# Usage: bench_rounds NAME ROUNDS "HYPERFINE OPTIONS" NAME1 COMMAND1 NAME2 COMMAND2 …
bench_rounds() {
  local name=$1 rounds=$2 round order options args
  read -ra options <<<"$3"
  shift 3
  forget "$name"
  for ((round = 1; round <= rounds; round++)); do
    order=$( ((round % 2)) && echo forward || echo backward)
    mapfile -d '' args < <(named "$order" "$@")
    bench_hyperfine "$name.$round" "${options[@]}" "${args[@]}"
  done
}
