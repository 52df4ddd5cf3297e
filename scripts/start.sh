#!/usr/bin/env bash
# The main job on a fresh machine: set up, build jailed-codex against the offline nixpkgs stand-in,
# and run it in its jail (with `--version` unless other arguments are given).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/nix.sh
agent=${JAILED_AGENT:-jailed-codex}
# Not for the wrapper: it stops on a JAILED_* variable it does not know.
unset JAILED_AGENT
out=$(build_with_hostpkgs "$agent")
echo "built $out" >&2
(($#)) || set -- --version
exec "$out/bin/$agent" "$@"
