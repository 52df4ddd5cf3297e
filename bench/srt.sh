# Sourced: installs Anthropic's sandbox-runtime (srt), pinned, into the bench cache once; never
# into the repository. Sets SRT_VERSION and SRT, its CLI. The start benchmarks and the proxy
# benchmarks run it beside jailed in the same run.
# shellcheck shell=bash
SRT_VERSION=0.0.83
SRT_PREFIX=${CACHE:-/var/cache/jailed/bench}/sandbox-runtime-$SRT_VERSION
SRT=$SRT_PREFIX/node_modules/.bin/srt
if [[ ! -x $SRT ]]; then
  echo "bench: installing @anthropic-ai/sandbox-runtime@$SRT_VERSION into $SRT_PREFIX" >&2
  # It declares node >= 22.12; npm warns on Node 20 and installs anyway (it runs: see RESULTS.md).
  npm install --prefix "$SRT_PREFIX" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/sandbox-runtime@$SRT_VERSION"
fi
# srt's Linux mode refuses to start without ripgrep, which it scans for paths to deny with (socat,
# which it also needs, scripts/setup.sh installs).
if ! command -v rg >/dev/null; then
  echo "bench: installing ripgrep for srt" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep >/dev/null
fi
