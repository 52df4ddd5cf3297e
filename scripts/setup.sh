#!/usr/bin/env bash
# Makes a fresh Debian machine ready for jailed: Debian's packages, the npm dependencies, and the pinned
# agents the offline nixpkgs stand-in (test/hostpkgs) wraps. Idempotent and quick when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A packages=(
  [nix-build]=nix-bin [bwrap]=bubblewrap [socat]=socat [patchelf]=patchelf [hyperfine]=hyperfine
  [curl]=curl [git]=git [python3]=python3 [setpriv]=util-linux
)
missing=()
for command in "${!packages[@]}"; do
  command -v "$command" >/dev/null || missing+=("${packages[$command]}")
done
if ((${#missing[@]})); then
  as_root=()
  ((EUID == 0)) || as_root=(sudo)
  echo "setup: installing ${missing[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "setup: jailed needs Node.js >= 20 (found $(node --version))" >&2
  exit 2
fi

# npm install, not npm ci: npm 11 writes no lock entries for other platforms' optional packages
# (esbuild's, biome's, rollup's), then npm ci calls the lock out of sync. install follows the lock as it is.
if [[ ! -d node_modules/.bin ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm install --no-audit --no-fund --loglevel=error
fi

bash test/hostpkgs/install-agents.sh
