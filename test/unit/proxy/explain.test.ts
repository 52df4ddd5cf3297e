import { expect, test } from "vitest";
import {
  allowHint,
  compilePolicy,
  describeRule,
  explainHostMismatch,
  explainPolicyDenial,
  explainRefusedAddress,
} from "../../../src/proxy/policy/index.js";

const attempt = {
  method: "GET",
  url: "https://api.example.com/v1",
  host: "api.example.com",
  port: 443,
};

test("describeRule writes a rule as one line", () => {
  expect(
    describeRule({
      action: "allow",
      host: "a.test",
      port: 8443,
      methods: ["GET", "POST"],
      path: "/v1/**",
      tls: "inspect",
      credential: "gh",
    }),
  ).toBe("allow host=a.test port=8443 methods=GET,POST path=/v1/** tls=inspect credential=gh");
});

test("allowHint gives the flag and the Nix line; other ports are named", () => {
  expect(allowHint("api.example.com", 443)).toEqual({
    flag: "--allow-host api.example.com",
    nix: 'network.allow = [ "api.example.com" ];',
  });
  expect(allowHint("a.test", 8443)).toEqual({
    flag: "--allow-host a.test:8443",
    nix: 'network.allow = [ { host = "a.test"; port = 8443; } ];',
  });
});

test("a default denial", () => {
  const denial = explainPolicyDenial(attempt, null);
  expect(denial.reason).toBe("default-deny");
  expect(denial.body).toBe(
    [
      "jailed: denied GET https://api.example.com/v1",
      "reason: no rule allows api.example.com on port 443 (default deny)",
      "to allow it: --allow-host api.example.com",
      'or in Nix: network.allow = [ "api.example.com" ];',
      "",
    ].join("\n"),
  );
  expect(denial.line).toBe(
    "jailed: denied GET https://api.example.com/v1: no rule allows api.example.com on port 443 (default deny); to allow it: --allow-host api.example.com",
  );
  expect(denial.line).not.toContain("\n");
});

test("a denial by a rule names it", () => {
  const rule = compilePolicy([
    { action: "allow", host: "x.test" },
    { action: "deny", host: "*.example.com" },
  ]).rules[1];
  const denial = explainPolicyDenial(attempt, rule ?? null);
  expect(denial.reason).toBe("deny-rule");
  expect(denial.body).toContain("reason: rule 1 denies it: deny host=*.example.com");
  expect(denial.body).toContain("to allow it (before rule 1): --allow-host api.example.com");
});

test("refused addresses and host mismatches", () => {
  const refused = explainRefusedAddress(attempt, [
    { address: "169.254.169.254", range: "metadata" },
  ]);
  expect(refused.reason).toBe("refused-address");
  expect(refused.body).toContain("api.example.com resolves to 169.254.169.254 (metadata)");
  expect(refused.body).toContain("--allow-host 169.254.169.254");
  const mismatch = explainHostMismatch(attempt, "evil.test");
  expect(mismatch.reason).toBe("host-mismatch");
  expect(mismatch.body).toContain(
    "the Host header names 'evil.test' but the tunnel was opened to api.example.com",
  );
});
