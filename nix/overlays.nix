# overlays.default: makeJailedAgent, jailedLib (with every makeJailed<Agent>), the jailed CLI, and a
# jailed-<agent> package for each agent the package set has.
final: prev:
let
  jailedLib = import ./lib.nix { pkgs = final; };
  # Presence is read from prev: the names this overlay adds must not depend on its own result.
  present = builtins.filter (spec: prev ? ${spec.nixAttr}) (builtins.attrValues jailedLib.agents);
in
{
  inherit (jailedLib) makeJailedAgent;
  inherit jailedLib;
  jailed = import ./cli.nix {
    pkgs = final;
    inherit jailedLib;
  };
}
// builtins.listToAttrs (
  map (spec: {
    inherit (spec) name;
    value = jailedLib.${spec.functionName} { };
  }) present
)
