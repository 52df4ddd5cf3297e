# Sourced by the scripts: Debian's nix-bin works offline with flakes on and no substituters.
export NIX_CONFIG="experimental-features = nix-command flakes
substituters =
warn-dirty = false"
# Builds a flake output against the offline nixpkgs stand-in and prints its store path.
build_with_hostpkgs() {
  nix build --no-link --json --no-write-lock-file \
    --override-input nixpkgs "path:$PWD/test/hostpkgs" ".#$1" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].outputs.out)'
}
