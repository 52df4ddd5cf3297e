# hostpkgs: an offline stand-in for the part of nixpkgs that jailed uses,
# built from this machine's binaries (see README.md). Called like nixpkgs:
# `import hostpkgs { system; config; overlays; }`.
{
  system ? builtins.currentSystem,
  config ? { },
  overlays ? [ ],
}:
let
  makeDerivation = import ./make-derivation.nix { inherit system config; };

  packages =
    final:
    let
      mkDerivation = makeDerivation {
        shell = "${final.bash}/bin/bash";
        path = "${final.coreutils}/bin:${final.bash}/bin";
      };

      # Builds that copy from this machine run with its bash and tools.
      hostRunCommand =
        name: env: buildCommand:
        makeDerivation
          {
            shell = "/bin/bash";
            path = "/usr/bin:/bin";
          }
          (
            {
              inherit name buildCommand;
              passAsFile = [ "buildCommand" ];
            }
            // env
          );
    in
    import ./trivial-builders.nix { inherit mkDerivation; }
    // {
      closureInfo = import ./closure-info.nix { inherit (final) runCommand; };
    }
    // import ./host-packages.nix { inherit final hostRunCommand; }
    // import ./agents.nix { inherit final hostRunCommand; };

  # nixpkgs' overlays: each is `final: prev: { … }`, applied in order on top
  # of the packages, `final` being the fixed point of them all.
  extend =
    base: overlay: final:
    let
      prev = base final;
    in
    prev // overlay final prev;

  fix =
    f:
    let
      x = f x;
    in
    x;
in
fix (builtins.foldl' extend packages overlays)
