#!/usr/bin/env bash
# Issue 2's budget: what the jail adds to an agent's start, beside what it is made of (the store's
# node starting, bwrap setting up a minimal jail) and beside Anthropic's sandbox-runtime (srt),
# which always starts its proxies: so jailed-codex is timed with its proxy too.
# Then where a jailed start goes: node's own start by entry kind, and the wrapper's phases.
# Usage (from the repository's root): bash bench/start/agent.sh
set -euo pipefail
source bench/start/common.sh
source bench/srt.sh
# The closest srt has to a network = "none" jail: no network, writes to the working directory only.
SRT_SETTINGS=$OUT/srt-settings.json
cat >"$SRT_SETTINGS" <<'JSON'
{
  "network": { "allowedDomains": [], "deniedDomains": [] },
  "filesystem": { "denyRead": [], "allowWrite": ["."], "denyWrite": [] }
}
JSON

codex=$(build codex)/bin/codex
jailed=$(build jailedCodex)/bin/jailed-codex
jailed_proxy=$(build jailedCodexProxy)/bin/jailed-codex
node=$(build nodejs)/bin/node
shell=$(build shell)/bin/jailed-bench-shell
jail=$(minimal_jail)
true_bin=$(build coreutils)/bin/true
record_machine

enter_sandbox
# 80 runs of each, as 40 rounds of 2 (see bench_rounds): the verdicts are a few ms from their limits
# and this machine moves them by more than that from one run to the next.
bench_rounds agent 40 "-N --warmup 1 --runs 2" \
  "codex --version" "$codex --version" \
  "jailed-codex --version" "$jailed --version" \
  "node -e 0" "$node -e 0" \
  "bwrap minimal jail: true" "$jail $true_bin" \
  "jailed shell -c true" "$shell -c true" \
  "jailed-codex --version, network through the proxy" "$jailed_proxy --version" \
  "srt $SRT_VERSION -c true" "$SRT -s $SRT_SETTINGS -c true" \
  "srt $SRT_VERSION -c 'codex --version'" "$SRT -s $SRT_SETTINGS -c '$codex --version'"

# node's start by entry kind: the runtime bundle is CommonJS because node 20 boots its ES module
# loader for an ES module entry; these rows show what that costs.
echo >"$SANDBOX/empty.cjs"
echo >"$SANDBOX/empty.mjs"
bench_rounds agent-node 3 "-N --warmup 2 --runs 10" \
  "node -e 0" "$node -e 0" \
  "node empty.cjs" "$node $SANDBOX/empty.cjs" \
  "node empty.mjs" "$node $SANDBOX/empty.mjs"

# The wrapper's phases, marked from inside its node by bench/start/phases.cjs.
rm -f "$OUT/phases.jsonl"
for _ in $(seq 30); do
  NODE_OPTIONS="--require $REPO/bench/start/phases.cjs" BENCH_PHASES_FILE=$OUT/phases.jsonl \
    nice -n -10 "$jailed" --version >/dev/null
done
