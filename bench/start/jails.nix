# What the start-up benchmarks run, built against the offline nixpkgs stand-in like the tests do:
#   nix-build bench/start/jails.nix -A <attr> [--arg paths N]
{
  pkgs ? import ../../test/hostpkgs { },
  # How many extra store paths shellWithPaths holds (budget: 2,000 add under 20 ms).
  paths ? 2000,
}:
let
  jailedLib = import ../../nix/lib.nix { inherit pkgs; };

  # A jailed bash: the smallest jail that still runs a real command.
  shell = jailedLib.makeJailedAgent {
    name = "jailed-bench-shell";
    pkg = pkgs.bash;
    command = "bash";
    network = "none";
  };

  # Extra store paths, each a tiny file, all referred to by one package, as a big dependency tree
  # is: a closure of any size that costs nothing to build, and adds one entry to PATH.
  extraPaths = pkgs.writeText "bench-paths" (
    builtins.concatStringsSep "\n" (
      builtins.genList (i: builtins.toFile "bench-path-${toString i}" "x") paths
    )
  );
in
{
  inherit (pkgs)
    codex
    nodejs
    coreutils
    bubblewrap
    ;
  jailedCodex = jailedLib.makeJailedCodex { network = "none"; };
  # With the spec's allowlist: the per-run proxy starts and socat bridges it in, as srt always does.
  jailedCodexProxy = jailedLib.makeJailedCodex { };
  inherit shell;
  shellWithPaths = shell.override { extraPkgs = [ extraPaths ]; };
}
