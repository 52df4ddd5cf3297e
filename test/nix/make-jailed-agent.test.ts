import { describe, expect, it } from "vitest";
import { nixEvalError, nixEvalJson, withJailedLib } from "../support/nix.js";

/** The JailConfig makeJailedAgent gives for bash with `options` added. */
function configWith(options: string): Record<string, unknown> {
  return nixEvalJson(
    withJailedLib(`(jailedLib.makeJailedAgent ({
      name = "jailed-opt";
      pkg = pkgs.bash;
    } // ${options})).jailConfig`),
  ) as Record<string, unknown>;
}

function errorWith(options: string): string {
  return nixEvalError(
    withJailedLib(`(jailedLib.makeJailedAgent ({
      name = "jailed-opt";
      pkg = pkgs.bash;
    } // ${options})).jailConfig`),
  );
}

const storePath = expect.stringMatching(/^\/nix\/store\/[a-z0-9]{32}-/);

describe("makeJailedAgent options, shown on the JailConfig", () => {
  const defaults = configWith("{ }");

  it("has documented defaults", () => {
    expect(defaults).toMatchObject({
      version: 1,
      name: "jailed-opt",
      argv: [expect.stringMatching(/-bash-[^/]+\/bin\/bash$/)],
      storePaths: expect.stringMatching(/-closure-info\/store-paths$/),
      storeView: expect.stringMatching(/^\/nix\/store\/[a-z0-9]{32}-jailed-opt-store-view$/),
      mounts: [],
      cwd: "rw",
      env: {},
      fwdEnv: [],
      network: { mode: "proxy", rules: [], policyFile: null },
      credentials: {},
      hardening: "default",
      nixStore: "closure",
      protectedPaths: [
        ".git/config",
        ".git/commondir",
        ".git/hooks/",
        ".envrc",
        ".mcp.json",
        ".vscode/",
        ".idea/",
        ".claude/commands/",
        ".claude/agents/",
      ],
      limits: { nofile: 65536, nproc: 4096 },
      tools: {
        bwrap: storePath,
        socat: storePath,
        sh: storePath,
        env: storePath,
        caBundle: storePath,
        perl: storePath,
      },
    });
    // basePackages defaults to commonPkgs: bash and coreutils, after pkg.
    expect(defaults.path).toEqual([
      expect.stringMatching(/-bash-[^/]+\/bin$/),
      expect.stringMatching(/-bash-[^/]+\/bin$/),
      expect.stringMatching(/-coreutils-[^/]+\/bin$/),
    ]);
  });

  it("command picks the program in pkg/bin, defaulting to meta.mainProgram", () => {
    expect(configWith(`{ command = "sh"; }`).argv).toEqual([expect.stringMatching(/\/bin\/sh$/)]);
    const codex = nixEvalJson(
      withJailedLib(
        `(jailedLib.makeJailedAgent { name = "x"; pkg = pkgs.codex; }).jailConfig.argv`,
      ),
    );
    expect(codex).toEqual([expect.stringMatching(/-codex-0\.169\.0\/bin\/codex$/)]);
  });

  it("configPaths are bound read-write, created as a file when they end in .json", () => {
    expect(
      configWith(`{ configPaths = [ "~/.agent" "~/.agent.json" "/srv/agent" ]; }`).mounts,
    ).toEqual([
      { path: "~/.agent", mode: "rw", create: "dir" },
      { path: "~/.agent.json", mode: "rw", create: "file" },
      { path: "/srv/agent", mode: "rw", create: "dir" },
    ]);
  });

  it("extraReadwriteDirs and extraReadonlyDirs are bound when they exist", () => {
    const config = configWith(
      `{ extraReadwriteDirs = [ "~/rw" ]; extraReadonlyDirs = [ "/ro" ]; }`,
    );
    expect(config.mounts).toEqual([
      { path: "~/rw", mode: "rw", create: "none" },
      { path: "/ro", mode: "ro", create: "none" },
    ]);
  });

  it("extraPkgs and basePackages set PATH", () => {
    const config = configWith(`{ extraPkgs = [ pkgs.curl ]; basePackages = [ pkgs.coreutils ]; }`);
    expect(config.path).toEqual([
      expect.stringMatching(/-bash-[^/]+\/bin$/),
      expect.stringMatching(/-curl-[^/]+\/bin$/),
      expect.stringMatching(/-coreutils-[^/]+\/bin$/),
    ]);
  });

  it("env, fwdEnv, hardening and nixStore are carried as given", () => {
    const config = configWith(
      `{ env = { A = "1"; }; fwdEnv = [ "EDITOR" ]; hardening = "strict"; nixStore = "full"; }`,
    );
    expect(config).toMatchObject({
      env: { A: "1" },
      fwdEnv: ["EDITOR"],
      hardening: "strict",
      nixStore: "full",
    });
  });

  it("protectedPaths replaces the list (lift one by leaving it out); limits merge over the defaults", () => {
    const config = configWith(`{
      protectedPaths = builtins.filter (p: p != ".envrc") jailedLib.defaultProtectedPaths ++ [ ".claude/settings.json" ];
      limits.nproc = 512;
    }`);
    expect(config.protectedPaths).toEqual([
      ...(defaults.protectedPaths as string[]).filter((path) => path !== ".envrc"),
      ".claude/settings.json",
    ]);
    expect(config.limits).toEqual({ nofile: 65536, nproc: 512 });
    expect(configWith(`{ protectedPaths = [ ]; }`).protectedPaths).toEqual([]);
  });

  it('network = "none" means no proxy; allow and rules become ordered rules', () => {
    expect(configWith(`{ network = "none"; }`).network).toEqual({ mode: "none" });
    const config = configWith(`{
      network = {
        allow = [ "api.example.com" { host = "api.github.com"; path = "/repos/me/**"; methods = [ "GET" ]; } ];
        rules = [ { action = "deny"; host = "api.example.com"; path = "/admin/**"; } ];
      };
    }`);
    expect(config.network).toEqual({
      mode: "proxy",
      policyFile: null,
      rules: [
        { action: "deny", host: "api.example.com", path: "/admin/**" },
        { action: "allow", host: "api.example.com" },
        { action: "allow", host: "api.github.com", path: "/repos/me/**", methods: ["GET"] },
      ],
    });
  });

  it("credentials are references with documented defaults, never values", () => {
    const config = configWith(`{
      credentials = {
        gh = { hosts = [ "api.github.com" ]; source = { command = [ "gh" "auth" "token" ]; }; sandboxEnv = "GH_TOKEN"; };
        key = { hosts = [ "api.example.com" ]; header = "x-api-key"; format = "{token}"; source = { env = "KEY"; }; };
        file = { hosts = [ "a.example" ]; source = { file = "~/.f.json"; pointer = "/token"; }; sandboxFile = "~/.f.json"; };
      };
    }`);
    expect(config.credentials).toEqual({
      gh: {
        hosts: ["api.github.com"],
        header: "authorization",
        format: "Bearer {token}",
        source: { type: "command", argv: ["gh", "auth", "token"] },
        sandboxEnv: "GH_TOKEN",
        sandboxFile: null,
      },
      key: {
        hosts: ["api.example.com"],
        header: "x-api-key",
        format: "{token}",
        source: { type: "env", name: "KEY" },
        sandboxEnv: null,
        sandboxFile: null,
      },
      file: {
        hosts: ["a.example"],
        header: "authorization",
        format: "Bearer {token}",
        source: { type: "file", path: "~/.f.json", pointer: "/token" },
        sandboxEnv: null,
        sandboxFile: "~/.f.json",
      },
    });
  });

  it("makeJailed<Agent> starts from the spec and takes overrides; override re-applies options", () => {
    const codex = nixEvalJson(
      withJailedLib(`let
        base = jailedLib.makeJailedCodex { };
        changed = base.override { network = "none"; };
      in [ base.jailConfig.network.mode base.jailConfig.mounts changed.jailConfig.network base.meta.mainProgram ]`),
    );
    expect(codex).toEqual([
      "proxy",
      [{ path: "~/.codex", mode: "rw", create: "dir" }],
      { mode: "none" },
      "jailed-codex",
    ]);
  });
});

describe("makeJailedAgent refuses bad options with a message naming the option and the agent", () => {
  const cases: [string, string][] = [
    [
      `{ configPaths = [ "rel/path" ]; }`,
      `configPaths entry "rel/path" must be an absolute path or start with ~/`,
    ],
    [
      `{ configPaths = [ "~/../etc" ]; }`,
      `configPaths entry "~/../etc" must be an absolute path or start with ~/ and must not contain '..'`,
    ],
    [`{ extraReadonlyDirs = [ "x" ]; }`, `extraReadonlyDirs entry "x" must be`],
    [
      `{ hardening = "loose"; }`,
      `hardening must be one of default, jit-runtime, strict (got "loose")`,
    ],
    [`{ nixStore = "some"; }`, `nixStore must be "closure" or "full" (got "some")`],
    [
      `{ network = "open"; }`,
      `network must be "none" or { allow = [ … ]; rules = [ … ]; policyFile = ./policy.toml; } (got "open")`,
    ],
    [
      `{ network = { allowed = [ ]; }; }`,
      `network has unknown field "allowed"; use allow, rules or policyFile`,
    ],
    [`{ env = { "A-B" = "1"; }; }`, "env and fwdEnv names must be environment variable names"],
    [`{ env = { A = 1; }; }`, "env must be an attribute set of strings"],
    [
      `{ protectedPaths = [ "/etc/passwd" ]; }`,
      `protectedPaths entry "/etc/passwd" must be a path relative to the working directory, without empty, '.' or '..' segments`,
    ],
    [`{ protectedPaths = [ "a/../../b" ]; }`, `protectedPaths entry "a/../../b" must be`],
    [`{ protectedPaths = [ "~/.bashrc" ]; }`, `protectedPaths entry "~/.bashrc" must be`],
    [`{ protectedPaths = ".envrc"; }`, "protectedPaths must be a list of paths"],
    [
      `{ limits.core = 1; }`,
      `limits has unknown field "core"; use nofile or nproc (core dumps are always off)`,
    ],
    [`{ limits.nproc = 0; }`, "limits.nofile and limits.nproc must be positive integers"],
    [`{ limits.nofile = "many"; }`, "limits.nofile and limits.nproc must be positive integers"],
    [`{ limits = 5; }`, "limits must be an attribute set { nofile = …; nproc = …; }"],
    [`{ colour = "red"; }`, `unknown option "colour"; known options: name, pkg, command`],
    [
      `{ credentials.k = { hosts = [ ]; source.env = "K"; }; }`,
      "credentials.k.hosts must name at least one host",
    ],
    [
      `{ credentials.k = { hosts = [ "h" ]; source = { env = "K"; command = [ "x" ]; }; }; }`,
      "credentials.k.source must have exactly one of env, file (with optional pointer) or command",
    ],
    [
      `{ credentials.k = { hosts = [ "h" ]; format = "Bearer"; source.env = "K"; }; }`,
      "credentials.k.format must contain {token}",
    ],
    [
      `{ credentials.k = { hosts = [ "h" ]; source.env = "K"; value = "s3cret"; }; }`,
      `credentials.k has unknown field "value"`,
    ],
  ];
  it.each(cases)("%s", (options, message) => {
    const error = errorWith(options);
    expect(error).toContain(`makeJailedAgent (jailed-opt): ${message}`);
  });

  it("requires name and pkg", () => {
    expect(
      nixEvalError(withJailedLib(`(jailedLib.makeJailedAgent { pkg = pkgs.bash; }).jailConfig`)),
    ).toContain("makeJailedAgent: the option `name` is required");
    expect(
      nixEvalError(withJailedLib(`(jailedLib.makeJailedAgent { name = "x"; }).jailConfig`)),
    ).toContain("makeJailedAgent (x): the option `pkg` is required");
  });
});
