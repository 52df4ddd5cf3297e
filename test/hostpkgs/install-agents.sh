#!/usr/bin/env bash
# Installs the agents pinned in agents.json from npm into a world-readable
# cache, one prefix per package@version, so that hostpkgs' builders (which
# run as a nixbld user, without network) can copy them into the store.
# Idempotent: a finished install leaves a marker, and is skipped next time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The fixed path agents.nix copies from.
cache=/var/cache/jailed/npm

umask 022
mkdir -p "$cache"
# Test files run in parallel and may all call this: one installs at a time.
exec 9>"$cache/.lock"
flock 9

# One "package@version" per line, from agents.json.
pins=$(node -e '
  const agents = require(process.argv[1]);
  for (const { package: name, version } of Object.values(agents)) console.log(`${name}@${version}`);
' "$here/agents.json")

for pin in $pins; do
  prefix=$cache/$pin
  if [ -e "$prefix/.installed" ]; then
    continue
  fi
  echo "install-agents: installing $pin into $prefix" >&2
  rm -rf "$prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier \
    --loglevel=error "$pin" >&2
  chmod -R a+rX "$cache"
  touch "$prefix/.installed"
done
