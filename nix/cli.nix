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
    cat > $out/bin/jailed <<'EOF'
    #!${pkgs.bash}/bin/bash
    exec ${pkgs.nodejs}/bin/node ${jailedLib.runtime}/jailed.mjs --cli ${base.configFile} "$@"
    EOF
    chmod +x $out/bin/jailed
  ''
