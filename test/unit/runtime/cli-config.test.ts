import { describe, expect, it } from "vitest";
import {
  allowHostRule,
  type RunRequest,
  resolveCommand,
  runConfig,
} from "../../../src/runtime/cli-config.js";
import { sampleJailConfig } from "../../support/jail-config.js";

const request: RunRequest = {
  packages: ["/nix/store/hhh-curl"],
  allowHosts: ["httpbin.org", "localhost:8080"],
  policyFile: null,
  network: "proxy",
  rw: ["data"],
  ro: ["~/.gitconfig"],
  env: ["A=1=2"],
  fwdEnv: ["TERM"],
  hardening: undefined,
  command: ["curl", "-s", "https://httpbin.org/get"],
};
const executables = new Set(["/nix/store/hhh-curl/bin/curl", "/nix/store/ccc-coreutils/bin/env"]);
const isExecutable = (path: string) => executables.has(path);

describe("runConfig", () => {
  const config = runConfig(sampleJailConfig(), request, "/work/project", isExecutable);

  it("runs the command found in the -p packages, with its arguments", () => {
    expect(config.argv).toEqual(["/nix/store/hhh-curl/bin/curl", "-s", "https://httpbin.org/get"]);
    expect(config.path[0]).toBe("/nix/store/hhh-curl/bin");
  });

  it("turns --allow-host into exact-host allow rules, with an optional port", () => {
    expect(config.network).toEqual({
      mode: "proxy",
      policyFile: null,
      rules: [
        { action: "allow", host: "httpbin.org" },
        { action: "allow", host: "localhost", port: 8080 },
      ],
    });
    const none = runConfig(sampleJailConfig(), { ...request, network: "none" }, "/w", isExecutable);
    expect(none.network).toEqual({ mode: "none" });
  });

  it("carries --policy as an absolute path, and refuses it without the proxy", () => {
    const withPolicy = { ...request, policyFile: "policies/gh.toml" };
    const network = runConfig(
      sampleJailConfig(),
      withPolicy,
      "/work/project",
      isExecutable,
    ).network;
    expect(network).toMatchObject({ mode: "proxy", policyFile: "/work/project/policies/gh.toml" });
    const absolute = { ...request, policyFile: "/etc/p.toml" };
    expect(runConfig(sampleJailConfig(), absolute, "/w", isExecutable).network).toMatchObject({
      policyFile: "/etc/p.toml",
    });
    expect(() =>
      runConfig(sampleJailConfig(), { ...withPolicy, network: "none" }, "/w", isExecutable),
    ).toThrow("--policy needs the proxy: it cannot go with --network none");
  });

  it("binds --rw and --ro paths, relative ones against cwd", () => {
    expect(config.mounts.slice(-2)).toEqual([
      { path: "/work/project/data", mode: "rw", create: "none" },
      { path: "~/.gitconfig", mode: "ro", create: "none" },
    ]);
  });

  it("sets --env and forwards --fwd-env on top of the base", () => {
    expect(config.env).toEqual({ AGENT_TELEMETRY: "0", A: "1=2" });
    expect(config.fwdEnv).toEqual(["EDITOR", "TERM"]);
  });

  it("refuses what it cannot honour, clearly", () => {
    expect(() =>
      runConfig(sampleJailConfig(), { ...request, command: [] }, "/w", isExecutable),
    ).toThrow("jailed run needs a command after --");
    expect(() => resolveCommand("jq", ["/nix/store/hhh-curl/bin"], isExecutable)).toThrow(
      "jq is not in any package given with -p (/nix/store/hhh-curl/bin); add -p with the package that has it",
    );
    expect(() =>
      runConfig(sampleJailConfig(), { ...request, env: ["=x"] }, "/w", isExecutable),
    ).toThrow('--env takes NAME=VALUE (got "=x")');
    expect(() => allowHostRule("https://x.org/")).toThrow("--allow-host takes a host or host:port");
    expect(() => allowHostRule("x.org:70000")).toThrow("port must be 1-65535");
  });
});
