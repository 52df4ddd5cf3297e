# nixpkgs' licence check (pkgs/stdenv/generic/check-meta.nix), the unfree
# part only: a package whose meta.license is unfree can be inspected (meta,
# name, passthru) but not instantiated unless config allows it, by
# allowUnfree, by allowUnfreePredicate, or by NIXPKGS_ALLOW_UNFREE=1.
{ config }:
let
  allowUnfree = config.allowUnfree or false || builtins.getEnv "NIXPKGS_ALLOW_UNFREE" == "1";

  predicate = config.allowUnfreePredicate or null;

  isUnfree =
    license:
    if builtins.isList license then
      builtins.any (l: !(l.free or false)) license
    else if builtins.isAttrs license then
      !(license.free or true)
    else
      false;

  showLicense =
    license:
    toString (
      map (l: l.shortName or l.fullName or "unknown") (
        if builtins.isList license then license else [ license ]
      )
    );

  getName = attrs: attrs.pname or (builtins.parseDrvName attrs.name).name;

  position =
    attrs:
    let
      pos = builtins.unsafeGetAttrPos "pname" attrs;
    in
    if pos == null then "«unknown-file»" else "${pos.file}:${toString pos.line}";

  refusal = attrs: ''
    Package ‘${attrs.name}’ in ${position attrs} has an unfree license (‘${showLicense attrs.meta.license}’), refusing to evaluate.

    a) To allow unfree packages for one invocation of the Nix tools:
         $ export NIXPKGS_ALLOW_UNFREE=1
       (with a flake, also pass --impure).
    b) Or allow every unfree package with
         { allowUnfree = true; }
       in the config given to nixpkgs.
    c) Or allow this one with a predicate:
         { allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [ "${getName attrs}" ]; }
  '';
in
# true when the derivation with these arguments may be instantiated;
# otherwise throws nixpkgs' message.
attrs:
if
  allowUnfree
  || !(isUnfree (attrs.meta.license or [ ]))
  || (builtins.isFunction predicate && predicate attrs)
then
  true
else
  throw (refusal attrs)
