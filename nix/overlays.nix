# overlays.default: makeJailedAgent, every makeJailed<Agent>, and a jailed-<agent> package for each
# agent the package set has.
final: prev:
let
  jailedLib = import ./lib.nix { pkgs = final; };
in
{
  inherit (jailedLib) makeJailedAgent;
  jailedLib = jailedLib;
}
// jailedLib.agentPackages
