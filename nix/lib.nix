# makeJailedAgent and one makeJailed<Agent> per agent spec.
#
# Uses builtins and this subset of nixpkgs only, each with its nixpkgs semantics: runCommandLocal,
# writeText, closureInfo, and packages by attribute (bash, coreutils, bubblewrap, socat, nodejs,
# cacert, perl, the agents). No pkgs.lib, so the same file works on any nixpkgs and on test/hostpkgs.
{ pkgs }:
let
  agents = import ./agents;

  # The runtime bundle and its loader (`npm run generate` writes them and CI checks they are fresh).
  runtime = pkgs.runCommandLocal "jailed-runtime" { } ''
    mkdir $out
    cp ${./runtime/jailed.cjs} $out/jailed.cjs
    cp ${./runtime/load.cjs} $out/load.cjs
  '';

  # The program a wrapper's bin holds, bin/${name} here: a node script calling the runtime bundle's
  # main with runtimeArgs and then the user's arguments. node is its interpreter, so no shell starts
  # in between (a bash that exec'd node cost ~3 ms of every run). Beside it, the V8 code cache it
  # loads the bundle with, made by the same node after a warm-up on runtimeArgs (src/runtime/load.ts).
  launcher =
    name: runtimeArgs:
    pkgs.runCommandLocal "${name}-launcher" { runtimeArgs = builtins.toJSON runtimeArgs; } ''
      mkdir -p $out/bin
      ${pkgs.nodejs}/bin/node -e \
        'require(process.argv[1]).writeCodeCache(process.argv[2], JSON.parse(process.env.runtimeArgs))' \
        ${runtime}/load.cjs $out/runtime.cache
      cat > $out/bin/${name} <<EOF
      #!${pkgs.nodejs}/bin/node
      require("${runtime}/load.cjs").loadRuntime("$out/runtime.cache").main($runtimeArgs.concat(process.argv.slice(2)));
      EOF
      chmod +x $out/bin/${name}
    '';

  # The closure of the jail's first process, the shell (tools.sh): bubblewrap binds it itself.
  shellClosure = pkgs.closureInfo { rootPaths = [ pkgs.bash ]; };

  # On PATH inside every jail unless basePackages says otherwise.
  commonPkgs = [
    pkgs.bash
    pkgs.coreutils
  ];

  hardeningProfiles = [
    "default"
    "jit-runtime"
    "strict"
  ];

  # Relative to the working directory: what the user's own tools (git, direnv, editors, agents run
  # outside the jail) execute or load without asking. A trailing / marks a directory. See README.md,
  # "Writes that turn into code".
  defaultProtectedPaths = [
    ".git/config"
    ".git/commondir"
    ".git/hooks/"
    ".envrc"
    ".mcp.json"
    ".vscode/"
    ".idea/"
    ".claude/commands/"
    ".claude/agents/"
  ];

  defaultLimits = {
    nofile = 65536;
    nproc = 4096;
  };

  knownOptions = [
    "name"
    "pkg"
    "command"
    "configPaths"
    "extraPkgs"
    "basePackages"
    "extraReadwriteDirs"
    "extraReadonlyDirs"
    "env"
    "fwdEnv"
    "network"
    "credentials"
    "hardening"
    "nixStore"
    "protectedPaths"
    "limits"
  ];

  hasSuffix = suffix: string: builtins.match ".*${suffix}" string != null;

  # Host paths are absolute or `~/…`; the runtime expands `~` against the user's home at run time.
  isHostPath =
    path:
    builtins.isString path
    && builtins.match "(/|~/).*" path != null
    && builtins.match "(.*/)?\\.\\.(/.*)?" path == null;

  # Below the working directory: no leading / or ~, no empty, . or .. segment; a trailing / is allowed.
  isProtectedPath =
    path:
    builtins.isString path
    && builtins.match "[^/~][^/]*(/[^/]+)*/?" path != null
    && builtins.match "(.*/)?\\.\\.?(/.*)?" path == null;

  isEnvName = name: builtins.match "[A-Za-z_][A-Za-z0-9_]*" name != null;

  credentialSource =
    fail: name: source:
    if !builtins.isAttrs source || builtins.length (builtins.attrNames source) == 0 then
      fail "credentials.${name}.source must be one of { env = \"VAR\"; }, { file = \"~/path\"; pointer = \"/json/pointer\"; } or { command = [ \"argv\" ]; }"
    else if source ? env && builtins.attrNames source == [ "env" ] then
      {
        type = "env";
        name = source.env;
      }
    else if source ? file && builtins.all (key: key == "file" || key == "pointer") (builtins.attrNames source) then
      {
        type = "file";
        path =
          if isHostPath source.file then
            source.file
          else
            fail "credentials.${name}.source.file must be absolute or start with ~/ (got ${builtins.toJSON source.file})";
        pointer = source.pointer or null;
      }
    else if source ? command && builtins.attrNames source == [ "command" ] then
      {
        type = "command";
        argv =
          if builtins.isList source.command && source.command != [ ] then
            source.command
          else
            fail "credentials.${name}.source.command must be a non-empty list of strings";
      }
    else
      fail "credentials.${name}.source must have exactly one of env, file (with optional pointer) or command (got ${builtins.toJSON (builtins.attrNames source)})";

  credentialKeys = [
    "hosts"
    "header"
    "format"
    "source"
    "sandboxEnv"
    "sandboxFile"
    "oauth"
  ];

  oauthKeys = [
    "refreshPointer"
    "expiresAtPointer"
    "tokenUrls"
  ];

  # An OAuth login in the credential's file source: where its refresh token (and expiry) are, and the
  # token endpoints that refresh it.
  credentialOAuth =
    fail: name: oauth:
    let
      unknown = builtins.filter (key: !builtins.elem key oauthKeys) (builtins.attrNames oauth);
    in
    if unknown != [ ] then
      fail "credentials.${name}.oauth has unknown field ${builtins.toJSON (builtins.head unknown)}"
    else if !(oauth ? refreshPointer) then
      fail "credentials.${name}.oauth.refreshPointer is required"
    else if !(oauth ? tokenUrls) || oauth.tokenUrls == [ ] then
      fail "credentials.${name}.oauth.tokenUrls must name at least one token endpoint"
    else
      {
        inherit (oauth) refreshPointer tokenUrls;
        expiresAtPointer = oauth.expiresAtPointer or null;
      };

  credential =
    fail: name: spec:
    let
      unknown = builtins.filter (key: !builtins.elem key credentialKeys) (builtins.attrNames spec);
      format = spec.format or "Bearer {token}";
    in
    if unknown != [ ] then
      fail "credentials.${name} has unknown field ${builtins.toJSON (builtins.head unknown)}"
    else if !(spec ? hosts) || spec.hosts == [ ] then
      fail "credentials.${name}.hosts must name at least one host"
    else if builtins.match ".*\\{token}.*" format == null then
      fail "credentials.${name}.format must contain {token}"
    else
      {
        inherit (spec) hosts;
        inherit format;
        header = spec.header or "authorization";
        source = credentialSource fail name spec.source;
        sandboxEnv = spec.sandboxEnv or null;
        sandboxFile = spec.sandboxFile or null;
      }
      // (if spec ? oauth then { oauth = credentialOAuth fail name spec.oauth; } else { });

  allowRule =
    entry:
    if builtins.isString entry then
      {
        action = "allow";
        host = entry;
      }
    else
      { action = "allow"; } // entry;

  networkConfig =
    fail: network:
    if network == "none" then
      { mode = "none"; }
    else if !builtins.isAttrs network then
      fail "network must be \"none\" or { allow = [ … ]; rules = [ … ]; policyFile = ./policy.toml; } (got ${builtins.toJSON network})"
    else
      let
        unknown = builtins.filter (
          key:
          !builtins.elem key [
            "allow"
            "rules"
            "policyFile"
          ]
        ) (builtins.attrNames network);
      in
      if unknown != [ ] then
        fail "network has unknown field ${builtins.toJSON (builtins.head unknown)}; use allow, rules or policyFile"
      else
        {
          mode = "proxy";
          # Explicit rules come first so a deny can carve an exception out of a later allow.
          rules = (network.rules or [ ]) ++ map allowRule (network.allow or [ ]);
          policyFile = if network ? policyFile then "${network.policyFile}" else null;
        };

  mount =
    fail: option: mode: create: path:
    if isHostPath path then
      { inherit path mode create; }
    else
      fail "${option} entry ${builtins.toJSON path} must be an absolute path or start with ~/ and must not contain '..'";

  /**
    Wrap `pkg` so that `bin/<name>` runs `pkg/bin/<command>` in a jail holding only its Nix closure.

    Returns a derivation with `bin/<name>`, `jailConfig` (the JailConfig as a Nix value),
    `meta.mainProgram = name`, and `override` taking new options.
  */
  makeJailedAgent =
    args:
    let
      name = args.name or (throw "makeJailedAgent: the option `name` is required");
      fail = message: throw "makeJailedAgent (${name}): ${message}";
      unknown = builtins.filter (key: !builtins.elem key knownOptions) (builtins.attrNames args);
      pkg = args.pkg or (fail "the option `pkg` is required");
      command = args.command or pkg.meta.mainProgram or name;
      configPaths = args.configPaths or [ ];
      extraPkgs = args.extraPkgs or [ ];
      basePackages = args.basePackages or commonPkgs;
      env = args.env or { };
      fwdEnv = args.fwdEnv or [ ];
      network = networkConfig fail (args.network or { allow = [ ]; });
      hardening = args.hardening or "default";
      nixStore = args.nixStore or "closure";
      credentials = builtins.mapAttrs (credential fail) (args.credentials or { });
      protectedPaths = args.protectedPaths or defaultProtectedPaths;
      limits = defaultLimits // (args.limits or { });

      jailPkgs = [ pkg ] ++ extraPkgs ++ basePackages;
      # /bin/sh, /usr/bin/env and the trust bundle are part of every jail; socat bridges to the proxy.
      roots =
        jailPkgs
        ++ [
          pkgs.bash
          pkgs.coreutils
          pkgs.cacert
        ]
        ++ (if network.mode == "proxy" then [ pkgs.socat ] else [ ]);
      closure = pkgs.closureInfo { rootPaths = roots; };

      # The jail's /nix/store, prepared here once instead of at every start (src/runtime/linux/store-view.ts):
      # `store/` holds an empty mount point per closure path (a symlink path as the symlink), `entries`
      # the shell's closure, which bubblewrap binds, and `clones` every other path but the symlinks,
      # which the store stager moves in.
      storeView = pkgs.runCommandLocal "${name}-store-view" { } ''
        mkdir -p $out/store
        declare -A shell
        while IFS= read -r path; do shell[$path]=1; done < ${shellClosure}/store-paths
        cp ${shellClosure}/store-paths $out/entries
        dirs=()
        while IFS= read -r path; do
          point=$out/store/''${path#/nix/store/}
          if [ -L "$path" ]; then
            ln -s "$(readlink "$path")" "$point"
            continue
          fi
          if [ -d "$path" ]; then dirs+=("$point"); else : > "$point"; fi
          [ -n "''${shell[$path]-}" ] || echo "$path" >&3
        done < ${closure}/store-paths 3> $out/clones
        # One mkdir per thousand paths, not one per path: a closure can hold thousands.
        for ((i = 0; i < ''${#dirs[@]}; i += 1000)); do mkdir -- "''${dirs[@]:i:1000}"; done
      '';

      jailConfig = {
        version = 1;
        inherit
          name
          env
          fwdEnv
          network
          credentials
          hardening
          nixStore
          protectedPaths
          limits
          ;
        argv = [ "${pkg}/bin/${command}" ];
        storePaths = "${closure}/store-paths";
        storeView = "${storeView}";
        path = map (p: "${p}/bin") jailPkgs;
        mounts =
          map (path: mount fail "configPaths" "rw" (if hasSuffix "\\.json" path then "file" else "dir") path) configPaths
          ++ map (mount fail "extraReadwriteDirs" "rw" "none") (args.extraReadwriteDirs or [ ])
          ++ map (mount fail "extraReadonlyDirs" "ro" "none") (args.extraReadonlyDirs or [ ]);
        cwd = "rw";
        tools = {
          bwrap = "${pkgs.bubblewrap}/bin/bwrap";
          socat = "${pkgs.socat}/bin/socat";
          sh = "${pkgs.bash}/bin/bash";
          env = "${pkgs.coreutils}/bin/env";
          caBundle = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
          perl = "${pkgs.perl}/bin/perl";
        };
      };

      checked =
        if unknown != [ ] then
          fail "unknown option ${builtins.toJSON (builtins.head unknown)}; known options: ${builtins.concatStringsSep ", " knownOptions}"
        else if builtins.match "[A-Za-z0-9][A-Za-z0-9._+-]*" name == null then
          fail "name must be a command name (letters, digits, . _ + -)"
        else if !builtins.elem hardening hardeningProfiles then
          fail "hardening must be one of ${builtins.concatStringsSep ", " hardeningProfiles} (got ${builtins.toJSON hardening})"
        else if
          !builtins.elem nixStore [
            "closure"
            "full"
          ]
        then
          fail "nixStore must be \"closure\" or \"full\" (got ${builtins.toJSON nixStore})"
        else if !builtins.isAttrs env || !builtins.all builtins.isString (builtins.attrValues env) then
          fail "env must be an attribute set of strings"
        else if !builtins.all isEnvName (builtins.attrNames env ++ fwdEnv) then
          fail "env and fwdEnv names must be environment variable names"
        else if !builtins.isList protectedPaths then
          fail "protectedPaths must be a list of paths relative to the working directory"
        else if !builtins.all isProtectedPath protectedPaths then
          fail "protectedPaths entry ${
            builtins.toJSON (builtins.head (builtins.filter (p: !isProtectedPath p) protectedPaths))
          } must be a path relative to the working directory, without empty, '.' or '..' segments"
        else if !builtins.isAttrs (args.limits or { }) then
          fail "limits must be an attribute set { nofile = …; nproc = …; }"
        else if builtins.attrNames limits != builtins.attrNames defaultLimits then
          fail "limits has unknown field ${
            builtins.toJSON (builtins.head (builtins.filter (k: !(defaultLimits ? ${k})) (builtins.attrNames limits)))
          }; use nofile or nproc (core dumps are always off)"
        else if !builtins.all (v: builtins.isInt v && v > 0) (builtins.attrValues limits) then
          fail "limits.nofile and limits.nproc must be positive integers"
        else
          jailConfig;

      configFile = pkgs.writeText "${name}-jail.json" (builtins.toJSON checked);

      wrapper =
        pkgs.runCommandLocal name
          {
            passthru = {
              jailConfig = checked;
              inherit configFile;
            };
            # Not pkg.meta: an unfree agent's license would make the wrapper itself unfree.
            meta = {
              mainProgram = name;
              description = "${command} in a jail built from its Nix closure";
            };
          }
          ''
            if [ ! -x ${pkg}/bin/${command} ]; then
              echo "makeJailedAgent (${name}): ${pkg}/bin/${command} is not an executable; set command to a program in ${pkg}/bin" >&2
              exit 1
            fi
            mkdir -p $out/bin
            cp ${
              launcher name [
                "--config"
                configFile
                "--"
              ]
            }/bin/${name} $out/bin/${name}
          '';
    in
    wrapper // { override = newArgs: makeJailedAgent (args // newArgs); };

  # makeJailed<Agent> takes the same options as makeJailedAgent, with the spec's as defaults.
  makeJailedFromSpec =
    spec: args:
    makeJailedAgent (
      {
        inherit (spec)
          name
          command
          configPaths
          env
          network
          credentials
          hardening
          ;
        pkg = pkgs.${spec.nixAttr};
      }
      // args
    );

  agentFunctions = builtins.listToAttrs (
    map (spec: {
      name = spec.functionName;
      value = makeJailedFromSpec spec;
    }) (builtins.attrValues agents)
  );

  # A jailed-<agent> package for each agent this nixpkgs has.
  agentPackages = builtins.listToAttrs (
    map (spec: {
      inherit (spec) name;
      value = makeJailedFromSpec spec { };
    }) (builtins.filter (spec: pkgs ? ${spec.nixAttr}) (builtins.attrValues agents))
  );
in
agentFunctions
// {
  inherit
    makeJailedAgent
    commonPkgs
    defaultProtectedPaths
    agents
    agentPackages
    runtime
    launcher
    ;
}
