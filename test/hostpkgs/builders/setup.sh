# The builder of every hostpkgs derivation, a small stand-in for nixpkgs'
# stdenv setup: strict shell options, $out also under structured attributes,
# then the derivation's buildCommand, run in the build directory.
set -eu -o pipefail

if [ -n "${NIX_ATTRS_SH_FILE:-}" ]; then
  # Structured attributes reach the build as shell variables, not as the
  # environment; the outputs come as an associative array.
  . "$NIX_ATTRS_SH_FILE"
  out=${outputs[out]}
  export out PATH
fi

cd "$NIX_BUILD_TOP"

if [ -n "${buildCommandPath:-}" ]; then
  eval "$(<"$buildCommandPath")"
else
  eval "$buildCommand"
fi
