# The jailed CLI: `jailed run -p PKG --allow-host HOST -- COMMAND`. Its base JailConfig supplies the
# tools (bwrap, socat, bash, coreutils, the CA bundle); each run adds the closure of its -p packages.
{ pkgs, jailedLib }:
let
  base = jailedLib.makeJailedAgent {
    name = "jailed";
    pkg = pkgs.bash;
    command = "bash";
  };
in
pkgs.runCommandLocal "jailed"
  {
    passthru.baseConfig = base.configFile;
    meta.mainProgram = "jailed";
  }
  ''
    mkdir -p $out/bin
    cp ${
      jailedLib.launcher "jailed" [
        "--cli"
        base.configFile
      ]
    }/bin/jailed $out/bin/jailed
  ''
