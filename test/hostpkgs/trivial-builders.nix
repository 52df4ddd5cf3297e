# nixpkgs' trivial builders (pkgs/build-support/trivial-builders), the part
# jailed uses, with their nixpkgs signatures and behaviour. The builds run
# with the stand-in's bash and coreutils on PATH, as stdenvNoCC's would.
{ mkDerivation }:
let
  escapeShellArg = arg: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] arg + "'";

  runCommandWith =
    runLocal: name: env: buildCommand:
    mkDerivation (
      {
        inherit name buildCommand;
        passAsFile = [ "buildCommand" ] ++ env.passAsFile or [ ];
      }
      // (
        if runLocal then
          {
            preferLocalBuild = true;
            allowSubstitutes = false;
          }
        else
          { }
      )
      // removeAttrs env [ "passAsFile" ]
    );
in
rec {
  runCommand = runCommandWith false;

  runCommandLocal = runCommandWith true;

  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      checkPhase ? "",
      meta ? { },
      passthru ? { },
      allowSubstitutes ? false,
      preferLocalBuild ? true,
      derivationArgs ? { },
    }:
    assert
      destination == ""
      || (builtins.substring 0 1 destination == "/" && destination != "/")
      || throw "writeTextFile: destination must be an absolute path within $out, got '${destination}'";
    let
      matches = builtins.match "/bin/([^/]+)" destination;
    in
    runCommand name
      (
        {
          inherit
            text
            executable
            checkPhase
            allowSubstitutes
            preferLocalBuild
            ;
          passAsFile = [ "text" ] ++ derivationArgs.passAsFile or [ ];
          meta =
            (if executable && matches != null then { mainProgram = builtins.head matches; } else { })
            // meta
            // derivationArgs.meta or { };
          passthru = passthru // derivationArgs.passthru or { };
        }
        // removeAttrs derivationArgs [
          "passAsFile"
          "meta"
          "passthru"
        ]
      )
      ''
        target=$out${escapeShellArg destination}
        mkdir -p "$(dirname "$target")"
        if [ -e "''${textPath:-}" ]; then
          mv "$textPath" "$target"
        else
          printf '%s' "$text" > "$target"
        fi
        if [ -n "$executable" ]; then
          chmod +x "$target"
        fi
        eval "$checkPhase"
      '';

  writeText = name: text: writeTextFile { inherit name text; };

  symlinkJoin =
    args@{
      name ?
        if args ? pname && args ? version then
          "${args.pname}-${args.version}"
        else
          throw "symlinkJoin requires either a `name` OR `pname` and `version`",
      paths,
      preferLocalBuild ? true,
      allowSubstitutes ? false,
      postBuild ? "",
      ...
    }:
    runCommand name
      (
        removeAttrs args [
          "name"
          "postBuild"
          "paths"
        ]
        // {
          inherit preferLocalBuild allowSubstitutes paths;
          passAsFile = [ "paths" ];
        }
      )
      ''
        # What lndir does: real directories, and a symlink for each file;
        # a symlink in a path is copied as it is; the first path wins.
        link_tree() {
          local from=$1 to=$2 entry name
          mkdir -p "$to"
          for entry in "$from"/* "$from"/.[!.]* "$from"/..?*; do
            [ -e "$entry" ] || [ -L "$entry" ] || continue
            name=''${entry##*/}
            if [ -d "$entry" ] && [ ! -L "$entry" ]; then
              link_tree "$entry" "$to/$name"
            elif [ -e "$to/$name" ] || [ -L "$to/$name" ]; then
              continue
            elif [ -L "$entry" ]; then
              ln -s "$(readlink "$entry")" "$to/$name"
            else
              ln -s "$entry" "$to/$name"
            fi
          done
        }
        mkdir -p $out
        for i in $(<"$pathsPath"); do
          if [ ! -d "$i" ]; then
            echo "symlinkJoin: $i is not a directory" >&2
            exit 1
          fi
          link_tree "$i" "$out"
        done
        ${postBuild}
      '';
}
