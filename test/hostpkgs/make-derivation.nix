# The stand-in for stdenv.mkDerivation that every hostpkgs derivation goes
# through. As in nixpkgs, `passthru` and `meta` end up on the result and not
# in the builder's environment, and the result refuses to be instantiated
# (outPath, drvPath) when check-meta says no, while its meta stays readable.
{ system, config }:
let
  checkMeta = import ./check-meta.nix { inherit config; };

  # Checked only when a derivation is instantiated, so that importing
  # hostpkgs for another system (a flake's outputs for every system) works.
  buildSystem =
    if system == "x86_64-linux" then
      system
    else
      throw "hostpkgs only builds x86_64-linux (it copies this machine's binaries), not ${system}";
in
# shell: the program that runs builders/setup.sh; path: the PATH of the build
# before the bin/ directories of nativeBuildInputs and buildInputs.
{ shell, path }:
args@{
  name,
  passthru ? { },
  meta ? { },
  nativeBuildInputs ? [ ],
  buildInputs ? [ ],
  ...
}:
let
  inputsPath = builtins.concatStringsSep ":" (
    map (input: "${input}/bin") (nativeBuildInputs ++ buildInputs) ++ [ path ]
  );

  drv = derivation (
    removeAttrs args [
      "passthru"
      "meta"
    ]
    // {
      system = buildSystem;
      builder = shell;
      args = [
        "-e"
        ./builders/setup.sh
      ];
      PATH = inputsPath;
    }
  );

  valid = checkMeta args;

  result =
    drv
    // passthru
    // {
      inherit meta;
      outPath =
        assert valid;
        drv.outPath;
      drvPath =
        assert valid;
        drv.drvPath;
      out = result;
      all = [ result ];
    };
in
result
