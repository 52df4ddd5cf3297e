import { describe, expect, it } from "vitest";
import { parseJailConfig } from "../../../src/runtime/config.js";
import { JailSetupError } from "../../../src/runtime/errors.js";
import { sampleJailConfig } from "../../support/jail-config.js";

function problemOf(value: unknown): string {
  try {
    parseJailConfig(value, "jail.json");
  } catch (error) {
    expect(error).toBeInstanceOf(JailSetupError);
    return (error as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("parseJailConfig", () => {
  it("accepts a valid config unchanged", () => {
    const config = sampleJailConfig();
    expect(parseJailConfig(structuredClone(config), "jail.json")).toEqual(config);
  });

  it("rejects an unknown version before looking at anything else", () => {
    expect(problemOf({ ...sampleJailConfig(), version: 2, bogus: true })).toBe(
      "jail.json: jail config version 2 is not supported (this runtime reads version 1); rebuild the wrapper with a matching jailed",
    );
    expect(problemOf(null)).toContain("version undefined is not supported");
  });

  it("names an unknown field at the top level and nested", () => {
    expect(problemOf({ ...sampleJailConfig(), extra: 1 })).toContain(
      'unknown field "extra" in (top level)',
    );
    const config = sampleJailConfig();
    const nested = { ...config, tools: { ...config.tools, curl: "/x" } };
    expect(problemOf(nested)).toContain('unknown field "curl" in tools');
  });

  it("names the path of a bad value", () => {
    const bad = sampleJailConfig({ mounts: [{ path: "relative", mode: "rw", create: "dir" }] });
    expect(problemOf(bad)).toContain("mounts.0.path: must be absolute or start with ~/");
    const dotdot = sampleJailConfig({
      mounts: [{ path: "~/a/../..", mode: "ro", create: "none" }],
    });
    expect(problemOf(dotdot)).toContain("must not contain '..'");
    expect(problemOf({ ...sampleJailConfig(), hardening: "loose" })).toContain("hardening");
  });

  it("rejects a protected path outside the working directory, and limits that are not counts", () => {
    for (const entry of ["/etc/x", "~/x", "a/../b", "a//b", ".", "./a", ""]) {
      expect(problemOf(sampleJailConfig({ protectedPaths: [entry] })), entry).toContain(
        "protectedPaths.0:",
      );
    }
    expect(
      parseJailConfig(sampleJailConfig({ protectedPaths: [".vscode/", "a/b"] }), "j"),
    ).toBeTruthy();
    const limits = { nofile: 0, nproc: 1.5 };
    const message = problemOf({ ...sampleJailConfig(), limits });
    expect(message).toContain("limits.nofile");
    expect(message).toContain("limits.nproc");
    expect(
      problemOf({ ...sampleJailConfig(), limits: { nofile: 1, nproc: 1, core: 0 } }),
    ).toContain('unknown field "core" in limits');
  });

  it("rejects a policy rule with an unknown action or field", () => {
    const network = {
      mode: "proxy",
      rules: [{ action: "maybe", host: "x", colour: "red" }],
      policyFile: null,
    };
    const message = problemOf({ ...sampleJailConfig(), network });
    expect(message).toContain("network.rules.0.action");
    expect(message).toContain('unknown field "colour" in network.rules.0');
  });
});
