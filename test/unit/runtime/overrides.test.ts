import { describe, expect, it } from "vitest";
import { JailSetupError } from "../../../src/runtime/errors.js";
import { applyOverrides } from "../../../src/runtime/overrides.js";
import { sampleJailConfig } from "../../support/jail-config.js";

describe("applyOverrides", () => {
  it("leaves the config alone when no JAILED_* variable is set", () => {
    const config = sampleJailConfig();
    expect(applyOverrides(config, { HOME: "/home/a", JAILEDX: "1" })).toBe(config);
  });

  it("takes a hardening profile from JAILED_HARDENING", () => {
    const config = applyOverrides(sampleJailConfig(), { JAILED_HARDENING: "strict" });
    expect(config.hardening).toBe("strict");
  });

  it("refuses a bad profile and an unknown variable", () => {
    expect(() => applyOverrides(sampleJailConfig(), { JAILED_HARDENING: "off" })).toThrow(
      'JAILED_HARDENING must be one of default, jit-runtime, strict (got "off")',
    );
    expect(() => applyOverrides(sampleJailConfig(), { JAILED_HARDENIN: "strict" })).toThrow(
      JailSetupError,
    );
    expect(() => applyOverrides(sampleJailConfig(), { JAILED_HARDENIN: "strict" })).toThrow(
      "unknown variable JAILED_HARDENIN",
    );
  });
});
