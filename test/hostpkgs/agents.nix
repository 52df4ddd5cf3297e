# The agents, from npm at the versions pinned in agents.json, laid out as
# nixpkgs builds them. install-agents.sh puts them in a world-readable cache
# first (builds have no network); a build copies from there. The version is
# in each derivation's name, so a new pin makes a new derivation.
{ final, hostRunCommand }:
let
  pins = builtins.fromJSON (builtins.readFile ./agents.json);

  cache = "/var/cache/jailed/npm";

  npmAgent =
    pname:
    { meta, copy }:
    let
      pin = pins.${pname};
      spec = "${pin.package}@${pin.version}";
    in
    hostRunCommand "${pname}-${pin.version}"
      {
        inherit pname meta;
        inherit (pin) version;
        inherit (final) glibc;
        prefix = "${cache}/${spec}";
      }
      ''
        if [ ! -e "$prefix/.installed" ]; then
          echo "hostpkgs: ${spec} is not in ${cache}; run test/hostpkgs/install-agents.sh first" >&2
          exit 1
        fi
        source ${./builders/bundle-elves.sh}
        ${copy}
        bundle_elves "$out"
      '';
in
{
  # The native binary (static musl) with what its npm package ships beside
  # it: codex-path/rg, codex-resources/ and the manifest it checks.
  codex = npmAgent "codex" {
    meta.mainProgram = "codex";
    copy = ''
      cp -R "$prefix/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl" "$out"
      chmod -R u+w "$out"
    '';
  };

  # A Bun executable. Bun finds itself through /proc/self/exe (to run its
  # embedded ripgrep, or itself again), so it runs as itself, patched, and
  # not through the loader. The wrapper is nixpkgs': no self-update.
  claude-code = npmAgent "claude-code" {
    meta = {
      mainProgram = "claude";
      license = {
        shortName = "unfree";
        fullName = "Unfree";
        free = false;
        redistributable = false;
      };
    };
    copy = ''
      mkdir -p "$out/bin"
      cp "$prefix/node_modules/@anthropic-ai/claude-code/bin/claude.exe" "$out/bin/.claude-wrapped"
      cat > "$out/bin/claude" <<EOF
    #!${final.bash}/bin/bash
    export DISABLE_AUTOUPDATER=1
    exec -a "\$0" "$out/bin/.claude-wrapped" "\$@"
    EOF
      chmod +x "$out/bin/claude"
    '';
  };

  # The JS bundle with its (optional, native) dependencies, run by the
  # stand-in's nodejs through its shebang, as nixpkgs' npm builds do.
  gemini-cli = npmAgent "gemini-cli" {
    meta.mainProgram = "gemini";
    copy = ''
      mkdir -p "$out/bin" "$out/lib"
      cp -R "$prefix/node_modules" "$out/lib/node_modules"
      chmod -R u+w "$out/lib"
      rm -rf "$out/lib/node_modules/.bin" "$out/lib/node_modules/.package-lock.json"
      main=$out/lib/node_modules/@google/gemini-cli/bundle/gemini.js
      sed -i "1s|^#!.*|#!${final.nodejs}/bin/node|" "$main"
      chmod +x "$main"
      ln -s ../lib/node_modules/@google/gemini-cli/bundle/gemini.js "$out/bin/gemini"
    '';
  };
}
