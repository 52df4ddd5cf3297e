import { describe, expect, it } from "vitest";
import { PolicyFileError, parsePolicyFile } from "../../../src/proxy/policy/file.js";
import { compilePolicy, decide, normalizePath } from "../../../src/proxy/policy/index.js";

const FILE = "/etc/jailed/p.toml";

describe("parsePolicyFile, our format", () => {
  it("reads [[rules]] tables with every Rule field, in order", () => {
    const text = `# a read-only GitHub policy
[[rules]]
action = "allow"
host = "api.github.com"
path = "/repos/me/**"
methods = ["GET", "HEAD"]
credential = "github"

[[rules]]
action = "deny"
host = "*.github.com"
port = 8443

[[rules]]
action = "allow"
host = "pinned.test"
tls = "passthrough"
`;
    expect(parsePolicyFile(text, FILE)).toEqual([
      {
        action: "allow",
        host: "api.github.com",
        path: "/repos/me/**",
        methods: ["GET", "HEAD"],
        credential: "github",
      },
      { action: "deny", host: "*.github.com", port: 8443 },
      { action: "allow", host: "pinned.test", tls: "passthrough" },
    ]);
  });

  it('accepts an explicit format = "jailed"', () => {
    const text = `format = "jailed"\n[[rules]]\naction = "allow"\nhost = "a.test"\n`;
    expect(parsePolicyFile(text, FILE)).toEqual([{ action: "allow", host: "a.test" }]);
  });
});

describe("parsePolicyFile, nix-jail's format", () => {
  it("reads [rules.pattern] host and path regexes as anchored /regex/ rules", () => {
    const text = `# Allow GitHub with credential injection
[[rules]]
action = "allow"
credential = "github"
[rules.pattern]
host = "api\\\\.github\\\\.com"
path = "/repos/me/.*"

[[rules]]
action = "deny"
[rules.pattern]
host = ".*"
`;
    expect(parsePolicyFile(text, FILE)).toEqual([
      {
        action: "allow",
        host: "/api\\.github\\.com/",
        path: "//repos/me/.*/",
        credential: "github",
      },
      { action: "deny", host: "/.*/" },
    ]);
  });

  it('reads flat host and path when the file says format = "nix-jail"', () => {
    const text = `format = "nix-jail"\n[[rules]]\naction = "allow"\nhost = "github\\\\.com"\npath = "^/me/repo\\\\.git/.*$"\n`;
    expect(parsePolicyFile(text, FILE)).toEqual([
      { action: "allow", host: "/github\\.com/", path: "/^/me/repo\\.git/.*$/" },
    ]);
  });

  // nix-jail would match these unanchored; read anchored they must not.
  const policy = compilePolicy(
    parsePolicyFile(
      `[[rules]]\naction = "allow"\n[rules.pattern]\nhost = "github\\\\.com"\npath = "/me/.*"\n`,
      FILE,
    ),
  );
  const check = (host: string, path: string) =>
    decide(policy, { host, port: 443, method: "GET", path: normalizePath(path) }).allow
      ? "allow"
      : "deny";
  it.each([
    ["github.com", "/me/repo", "allow"],
    ["GitHub.com", "/me/repo", "allow"],
    ["evilgithub.com", "/me/repo", "deny"],
    ["github.com.evil.test", "/me/repo", "deny"],
    ["githubxcom", "/me/repo", "deny"],
    ["api.github.com", "/me/repo", "deny"],
    ["github.com", "/other/me/repo", "deny"],
    ["github.com", "/me", "deny"],
    ["github.com", "/me/../other", "deny"],
  ])("host %s path %s: %s", (host, path, expected) => {
    expect(check(host, path)).toBe(expected);
  });
});

describe("parsePolicyFile errors name the file, the line and the reason", () => {
  const rule = (body: string) => `[[rules]]\naction = "allow"\nhost = "a.test"\n${body}`;
  it.each([
    ["malformed TOML", `[[rules]]\naction = "allow"\nhost = \n`, 3, /^malformed TOML: /],
    ["an unclosed table", `[[rules]]\naction = "allow"\n[[rules\n`, 3, /^malformed TOML: /],
    ["an unknown rule key", rule(`method = ["GET"]\n`), 4, /^unknown key 'method' in a rule/],
    [
      "an unknown top-level key",
      `version = 1\n[[rules]]\naction = "allow"\nhost = "a.test"\n`,
      1,
      /^unknown key 'version'/,
    ],
    ["a bad format", `format = "yaml"\n[[rules]]\n`, 1, /^format must be "jailed" or "nix-jail"/],
    ["no rules", `# nothing\n`, 1, /^the rules go in \[\[rules\]\] tables/],
    [
      "a bad action",
      `[[rules]]\naction = "permit"\nhost = "a.test"\n`,
      2,
      /^action: must be "allow" or "deny"/,
    ],
    ["a missing action", `[[rules]]\nhost = "a.test"\n`, 1, /^action: /],
    ["lower-case methods", rule(`methods = ["get"]\n`), 4, /^methods: methods are upper case/],
    ["a port out of range", rule(`port = 70000\n`), 4, /^port: /],
    ["a bad tls", rule(`tls = "mitm"\n`), 4, /^tls: must be "inspect" or "passthrough"/],
    [
      "a bad path regex, in the second rule",
      `${rule("")}\n[[rules]]\naction = "deny"\nhost = "b.test"\npath = "/(/"\n`,
      8,
      /^rule 2: path '\/\(\/': Invalid regular expression/,
    ],
    [
      "a bad host",
      `[[rules]]\naction = "allow"\nhost = "a.test:443"\n`,
      3,
      /^rule 1: host 'a.test:443'.*give the port in the rule's `port`/,
    ],
    [
      "passthrough with a path (the compiler's cross-field check)",
      rule(`tls = "passthrough"\npath = "/x"\n`),
      1,
      /^rule 1: tls = passthrough is host-level only/,
    ],
    [
      "a bad nix-jail host regex",
      `[[rules]]\naction = "allow"\n[rules.pattern]\nhost = "git(hub"\n`,
      4,
      /^rule 1: host '\/git\(hub\/': Invalid regular expression/,
    ],
    [
      "a nix-jail path that can never match anchored",
      `[[rules]]\naction = "allow"\n[rules.pattern]\nhost = "a\\\\.test"\npath = "api/v1"\n`,
      5,
      /^rule 1: path '\/api\/v1\/': .*can never match/,
    ],
    [
      "a nix-jail cidr pattern",
      `[[rules]]\naction = "allow"\n[rules.pattern]\ncidr = "10.0.0.0/8"\n`,
      4,
      /^cidr patterns are not supported/,
    ],
    [
      "a nix-jail bad action",
      `[[rules]]\naction = "block"\n[rules.pattern]\nhost = "a"\n`,
      2,
      /^action must be "allow" or "deny"/,
    ],
    [
      "a nix-jail unknown key",
      `[[rules]]\naction = "allow"\nmethods = ["GET"]\n[rules.pattern]\nhost = "a"\n`,
      3,
      /^unknown key 'methods' in a nix-jail rule/,
    ],
    [
      "a nix-jail rule without a host",
      `format = "nix-jail"\n[[rules]]\naction = "allow"\npath = "/x"\n`,
      2,
      /^a nix-jail rule needs a host pattern/,
    ],
    [
      "a nix-jail host regex read as our format",
      `[[rules]]\naction = "allow"\nhost = "github\\\\.com"\n`,
      3,
      /^rule 1: host 'github\\\.com': .*not a host name/,
    ],
  ])("%s", (_what, text, line, reason) => {
    let caught: unknown;
    try {
      parsePolicyFile(text, FILE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PolicyFileError);
    const error = caught as PolicyFileError;
    expect({ file: error.file, line: error.line }).toEqual({ file: FILE, line });
    expect(error.reason).toMatch(reason);
    expect(error.message).toBe(`${FILE}:${line}: ${error.reason}`);
  });
});
