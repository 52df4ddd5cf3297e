import { describe, expect, test } from "vitest";
import {
  compilePathPattern,
  compilePolicy,
  decide,
  decideConnect,
  normalizeHost,
  normalizePath,
  PolicyError,
} from "../../../src/proxy/policy/index.js";
import type { Rule } from "../../../src/spec/policy.js";

const allow = (host: string, extra: Partial<Rule> = {}): Rule => ({
  action: "allow",
  host,
  ...extra,
});
const deny = (host: string, extra: Partial<Rule> = {}): Rule => ({
  action: "deny",
  host,
  ...extra,
});

/** The deciding rule's index, or "default" for no match, for a GET / on 443 unless told. */
function verdict(
  rules: Rule[],
  host: string,
  more: { port?: number; method?: string; path?: string } = {},
) {
  const decision = decide(compilePolicy(rules), {
    host,
    port: more.port ?? 443,
    method: more.method ?? "GET",
    path: more.path ?? "/",
  });
  return { allow: decision.allow, rule: decision.rule?.index ?? "default" };
}

describe("normalizeHost", () => {
  test.each([
    ["API.Example.COM", "api.example.com"],
    ["example.com.", "example.com"],
    ["bücher.de", "xn--bcher-kva.de"],
    ["0x7f.1", "127.0.0.1"],
    ["[::FFFF:127.0.0.1]", "::ffff:7f00:1"],
    ["::1", "::1"],
    ["a_b.example", "a_b.example"],
  ])("%s -> %s", (raw, normal) => expect(normalizeHost(raw)).toBe(normal));

  test.each([
    "",
    "exa mple.com",
    "a..b",
    "example.com..",
    "999.1.1.1",
    "[zz::1]",
    "a/b",
    "a.test?x",
    "a\tb",
    "a%2eb",
    "u@a.test",
    "::1]/x[::2",
  ])("rejects %j", (raw) => expect(normalizeHost(raw)).toBeNull());
});

describe("host patterns", () => {
  test("exact hosts match only themselves, case-insensitively, with or without trailing dot", () => {
    const rules = [allow("allowed.test")];
    expect(verdict(rules, "allowed.test")).toEqual({ allow: true, rule: 0 });
    expect(verdict(rules, normalizeHost("ALLOWED.test.") as string)).toEqual({
      allow: true,
      rule: 0,
    });
    expect(verdict(rules, "allowed.test.evil.test")).toEqual({ allow: false, rule: "default" });
    expect(verdict(rules, "evilallowed.test")).toEqual({ allow: false, rule: "default" });
    expect(verdict(rules, "sub.allowed.test")).toEqual({ allow: false, rule: "default" });
  });

  test("a rule's host is normalised like a request's (IDN, case, trailing dot)", () => {
    expect(verdict([allow("Bücher.DE.")], "xn--bcher-kva.de")).toEqual({ allow: true, rule: 0 });
  });

  test("*.domain matches subdomains at any depth, never the apex or look-alikes", () => {
    const rules = [allow("*.x.test")];
    expect(verdict(rules, "a.x.test").allow).toBe(true);
    expect(verdict(rules, "a.b.x.test").allow).toBe(true);
    expect(verdict(rules, "x.test").allow).toBe(false);
    expect(verdict(rules, "evilx.test").allow).toBe(false);
    expect(verdict(rules, "x.test.evil").allow).toBe(false);
  });

  test("a regex is anchored to the whole host", () => {
    const rules = [allow("/api[0-9]\\.example\\.com/")];
    expect(verdict(rules, "api1.example.com").allow).toBe(true);
    expect(verdict(rules, "api1.example.com.evil.test").allow).toBe(false);
    expect(verdict(rules, "evil-api1.example.com").allow).toBe(false);
    // The alternation cannot escape the anchors.
    expect(verdict([allow("/a\\.test|b\\.test/")], "b.test.evil").allow).toBe(false);
    expect(verdict([allow("/a\\.test|b\\.test/")], "b.test").allow).toBe(true);
  });

  test("* alone matches every host", () => {
    expect(verdict([allow("*")], "anything.test").allow).toBe(true);
  });

  test("IP literal rules", () => {
    expect(verdict([allow("127.0.0.1")], "127.0.0.1")).toEqual({ allow: true, rule: 0 });
    expect(verdict([allow("[::1]")], "::1")).toEqual({ allow: true, rule: 0 });
    const named = compilePolicy([
      allow("127.0.0.1"),
      allow("::1", { port: 8080 }),
      deny("10.0.0.1"),
    ]).namedAddresses;
    expect(named).toEqual(
      new Map([
        ["127.0.0.1", new Set([80, 443])],
        ["::1", new Set([8080])],
      ]),
    );
  });
});

describe("rule order, ports, methods, paths", () => {
  test("first match wins; no match denies", () => {
    expect(verdict([deny("a.test"), allow("a.test")], "a.test")).toEqual({ allow: false, rule: 0 });
    expect(verdict([allow("a.test"), deny("a.test")], "a.test")).toEqual({ allow: true, rule: 0 });
    expect(verdict([], "a.test")).toEqual({ allow: false, rule: "default" });
  });

  test("order holds across exact, wildcard and regex rules", () => {
    const rules = [deny("/.*\\.evil\\.test/"), allow("*.evil.test"), allow("a.evil.test")];
    expect(verdict(rules, "a.evil.test")).toEqual({ allow: false, rule: 0 });
    const reversed = [allow("a.evil.test"), allow("*.evil.test"), deny("/.*\\.evil\\.test/")];
    expect(verdict(reversed, "a.evil.test")).toEqual({ allow: true, rule: 0 });
    expect(verdict(reversed, "b.evil.test")).toEqual({ allow: true, rule: 1 });
  });

  test("a rule without port covers 80 and 443 only", () => {
    expect(verdict([allow("a.test")], "a.test", { port: 80 }).allow).toBe(true);
    expect(verdict([allow("a.test")], "a.test", { port: 8443 }).allow).toBe(false);
    expect(verdict([allow("a.test", { port: 8443 })], "a.test", { port: 8443 }).allow).toBe(true);
    expect(verdict([allow("a.test", { port: 8443 })], "a.test", { port: 443 }).allow).toBe(false);
  });

  test("an encoded slash that would hide a dot segment never matches an allow path rule", () => {
    const rules = [allow("api.test", { path: "/repos/me/**" })];
    for (const raw of [
      "/repos/me/..%2Fother",
      "/repos/me/%2e%2e%2fother",
      "/repos/me/..%5Cother",
    ]) {
      // Control: without the check the glob matches the normalised path.
      expect(compilePathPattern("/repos/me/**").test(normalizePath(raw))).toBe(true);
      expect(verdict(rules, "api.test", { path: normalizePath(raw) })).toEqual({
        allow: false,
        rule: "default",
      });
    }
    // An encoded slash inside a name is common (GitLab's group%2Fproject) and stays allowed.
    expect(verdict(rules, "api.test", { path: "/repos/me/group%2Fproject" }).allow).toBe(true);
    // A deny rule still matches, and a host-wide allow does not look at paths.
    const denyFirst = [deny("api.test", { path: "/repos/me/**" }), allow("api.test")];
    expect(verdict(denyFirst, "api.test", { path: "/repos/me/..%2Fx" })).toEqual({
      allow: false,
      rule: 0,
    });
    expect(verdict([allow("api.test")], "api.test", { path: "/repos/me/..%2Fx" }).allow).toBe(true);
  });

  test("methods", () => {
    const rules = [allow("a.test", { methods: ["GET", "HEAD"] })];
    expect(verdict(rules, "a.test", { method: "GET" }).allow).toBe(true);
    expect(verdict(rules, "a.test", { method: "POST" }).allow).toBe(false);
  });

  test("path globs: * within a segment, ** across", () => {
    const rules = [
      allow("a.test", { path: "/v1/*/items" }),
      allow("a.test", { path: "/files/**" }),
    ];
    expect(verdict(rules, "a.test", { path: "/v1/x/items" }).allow).toBe(true);
    expect(verdict(rules, "a.test", { path: "/v1/x/y/items" }).allow).toBe(false);
    expect(verdict(rules, "a.test", { path: "/files" }).allow).toBe(true);
    expect(verdict(rules, "a.test", { path: "/files/a/b.txt" }).allow).toBe(true);
    expect(verdict(rules, "a.test", { path: "/filesystem" }).allow).toBe(false);
  });

  test("a path glob cannot be escaped with dot segments or encoded dots", () => {
    const rules = [allow("a.test", { path: "/ok/**" })];
    for (const raw of [
      "/ok/../secret",
      "/ok/%2e%2e/secret",
      "/ok/%2E%2E/secret",
      "/ok/./../secret",
    ]) {
      expect(verdict(rules, "a.test", { path: normalizePath(raw) }).allow).toBe(false);
    }
    expect(verdict(rules, "a.test", { path: normalizePath("/ok/a/../b") }).allow).toBe(true);
  });

  test("a path regex is anchored", () => {
    const rules = [allow("a.test", { path: "/\\/v[12]\\/.*/" })];
    expect(verdict(rules, "a.test", { path: "/v1/x" }).allow).toBe(true);
    expect(verdict(rules, "a.test", { path: "/x/v1/x" }).allow).toBe(false);
  });

  test("10,000 exact rules are looked up, not scanned, and keep their order", () => {
    const rules = Array.from({ length: 10_000 }, (_, i) => allow(`host${i}.test`));
    rules.push(deny("host5000.test"));
    const policy = compilePolicy(rules);
    expect(policy.scanned).toHaveLength(0);
    expect(policy.exact.get("host5000.test")?.map((r) => r.index)).toEqual([5000, 10_000]);
    expect(
      decide(policy, { host: "host5000.test", port: 443, method: "GET", path: "/" }).rule?.index,
    ).toBe(5000);
  });
});

describe("decideConnect", () => {
  const connect = (rules: Rule[], host: string, port = 443) => {
    const decision = decideConnect(compilePolicy(rules), host, port);
    return { action: decision.action, rule: decision.rule?.index ?? "default" };
  };

  test("a host some rule may allow is inspected", () => {
    expect(connect([allow("a.test", { path: "/ok/**" })], "a.test")).toEqual({
      action: "inspect",
      rule: 0,
    });
    expect(connect([allow("a.test", { methods: ["GET"] })], "a.test")).toEqual({
      action: "inspect",
      rule: 0,
    });
  });

  test("conditional denies do not close the host; an unconditional one does", () => {
    expect(connect([deny("a.test", { path: "/admin/**" }), allow("a.test")], "a.test")).toEqual({
      action: "inspect",
      rule: 1,
    });
    expect(connect([deny("a.test"), allow("a.test")], "a.test")).toEqual({
      action: "deny",
      rule: 0,
    });
    expect(connect([], "a.test")).toEqual({ action: "deny", rule: "default" });
    expect(connect([allow("a.test")], "a.test", 8443)).toEqual({ action: "deny", rule: "default" });
  });

  test("passthrough only when a passthrough rule is the first to match host and port", () => {
    expect(connect([allow("a.test", { tls: "passthrough" })], "a.test")).toEqual({
      action: "passthrough",
      rule: 0,
    });
    // An earlier path rule would go unchecked in a tunnel: decrypt instead.
    const shadowed = [
      deny("a.test", { path: "/admin/**" }),
      allow("a.test", { tls: "passthrough" }),
    ];
    expect(connect(shadowed, "a.test")).toEqual({ action: "inspect", rule: 1 });
  });
});

describe("compile errors name the rule and the reason", () => {
  test.each<[Rule, RegExp]>([
    [allow("/(unclosed/"), /rule 0: host '\/\(unclosed\/'.*Invalid regular expression/],
    [allow("api.*.com"), /rule 0: .*use \/regex\//],
    [allow("example.com:8443"), /rule 0: .*give the port in the rule's `port`/],
    [allow("a.test", { path: "/(x/" }), /rule 0: path '\/\(x\/'/],
    [allow("a.test", { path: "/v1/" }), /rule 0: .*can never match.*'\/v1\/\*\*'/],
    [allow("a.test", { path: "v1/**" }), /rule 0: .*starts with '\/'/],
    [allow("a.test", { path: "/a/../b" }), /rule 0: .*normal form: '\/b'/],
    [
      allow("a.test", { tls: "passthrough", path: "/x" }),
      /rule 0: tls = passthrough is host-level only/,
    ],
    [
      deny("a.test", { tls: "passthrough" }),
      /rule 0: tls = passthrough only makes sense on an allow rule/,
    ],
  ])("%j", (rule, message) => {
    expect(() => compilePolicy([rule])).toThrow(PolicyError);
    expect(() => compilePolicy([rule])).toThrow(message);
  });

  test("the index is that of the bad rule", () => {
    expect(() => compilePolicy([allow("a.test"), allow("b.test"), allow("/(/")])).toThrow(
      /^policy rule 2:/,
    );
  });
});

describe("normalizePath", () => {
  test.each([
    ["/a/b/../c", "/a/c"],
    ["/a/./b", "/a/b"],
    ["/a/b/..", "/a/"],
    ["/..", "/"],
    ["/%7Euser/%41", "/~user/A"],
    ["/a%2fb", "/a%2Fb"],
    ["/a%2Fb/../c", "/c"],
    ["/a%20b", "/a%20b"],
    ["/a//b", "/a//b"],
  ])("%s -> %s", (raw, normal) => expect(normalizePath(raw)).toBe(normal));

  test("globs compile to anchored expressions", () => {
    expect(compilePathPattern("/a/**/z").test("/a/z")).toBe(true);
    expect(compilePathPattern("/a/**/z").test("/a/b/c/z")).toBe(true);
    expect(compilePathPattern("/a/**/z").test("/a/b/cz")).toBe(false);
    expect(compilePathPattern("/a.json").test("/aXjson")).toBe(false);
  });
});
