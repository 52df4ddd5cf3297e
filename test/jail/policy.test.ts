import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { fakeApiEnv, latestAuditEntries } from "../support/e2e.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { nixBuild, withJailedLib } from "../support/nix.js";

/** Our format: read-only access to my repositories' API, nothing else. */
const OURS = `[[rules]]
action = "allow"
host = "api.github.com"
path = "/repos/me/**"
methods = ["GET"]
`;

/** nix-jail's format: an unanchored-looking host regex, which we read anchored. */
const NIX_JAIL = `[[rules]]
action = "allow"
[rules.pattern]
host = "github\\\\.test"
path = "/me/.*"
`;

const BAD = `[[rules]]
action = "allow"
host = "api.github.com"
path = '/\\/repos\\/(me/'

`;

const policyDir = mkdtempSync(join(tmpdir(), "jailed-policy-"));
const shellWith = (name: string, policy: string): string => {
  const file = join(policyDir, `${name}.toml`);
  writeFileSync(file, policy);
  const expr = withJailedLib(`jailedLib.makeJailedAgent {
    name = "${name}";
    pkg = pkgs.bash;
    command = "bash";
    extraPkgs = [ pkgs.curl ];
    network.policyFile = ${file};
  }`);
  return join(nixBuild(expr), "bin", name);
};

let ours: string;
let nixJail: string;
let bad: string;
let upstream: Upstream;
const seen: string[] = [];

beforeAll(async () => {
  ours = shellWith("jailed-policy-ours", OURS);
  nixJail = shellWith("jailed-policy-nix-jail", NIX_JAIL);
  bad = shellWith("jailed-policy-bad", BAD);
  upstream = await startHttpsUpstream((req, res) => {
    seen.push(`${req.method} ${req.headers.host}${req.url}`);
    res.end("upstream\n");
  });
});

afterAll(async () => {
  await upstream?.close();
  rmSync(policyDir, { recursive: true, force: true });
});

describe.each(RUNNERS)("a policy file in a jail run as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  /** The response's status, or `CONNECT <status>` when the proxy refused the tunnel itself. */
  const status = async (wrapper: string, args: string) => {
    const curl = `curl -s -o /dev/null --path-as-is --max-time 10 -w '%{http_code} %{http_connect}'`;
    const result = await runAsAsync(runner, sandbox, [wrapper, "-c", `${curl} ${args}`], env);
    const [code, connect] = result.stdout.split(" ");
    return code === "000" ? `CONNECT ${connect}` : code;
  };

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    env = fakeApiEnv(sandbox, upstream, [
      "api.github.com",
      "github.test",
      "evilgithub.test",
      "github.test.evil.test",
    ]);
  });
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  it("allows GET below /repos/me/ and denies POST to it", async () => {
    expect(await status(ours, "https://api.github.com/repos/me/project")).toBe("200");
    expect(await status(ours, "-X POST -d x https://api.github.com/repos/me/project")).toBe("403");
    expect(await status(ours, "https://api.github.com/repos/other/project")).toBe("403");
  });

  it.each([
    "/repos/me/../other",
    "/repos/me/%2e%2e/other",
    "/repos/me/%2E%2E/other",
    "/repos/me/.%2e/other",
    "/repos/me%2F..%2Fother",
    "/repos/me%2fother",
  ])("denies %s, and the upstream never sees it", async (path) => {
    const before = seen.length;
    expect(await status(ours, `https://api.github.com${path}`)).toBe("403");
    expect(seen.slice(before)).toEqual([]);
  });

  it("logs the denied POST in the run's audit log", async () => {
    await status(ours, "-X POST -d x https://api.github.com/repos/me/project");
    const entries = latestAuditEntries(sandbox);
    expect(entries.map((entry) => [entry.method, entry.url, entry.decision])).toContainEqual([
      "POST",
      "https://api.github.com/repos/me/project",
      "deny",
    ]);
  });

  it("reads a nix-jail policy's patterns anchored", async () => {
    expect(await status(nixJail, "https://github.test/me/repo")).toBe("200");
    expect(await status(nixJail, "https://github.test/other/me/repo")).toBe("403");
    expect(await status(nixJail, "https://evilgithub.test/me/repo")).toBe("CONNECT 403");
    expect(await status(nixJail, "https://github.test.evil.test/me/repo")).toBe("CONNECT 403");
  });

  it("stops before the agent starts on a bad policy file, with exit 2, the file and the line", async () => {
    // Several times: the policy fails while bubblewrap sets the jail up, and a jail stopped by
    // killing bwrap then could outlive it and hold the run open (it did, in about half the runs).
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await runAsAsync(runner, sandbox, [bad, "-c", "echo ran"], env);
      expect(result.status).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(
        /^jailed: \/nix\/store\/[a-z0-9]{32}-jailed-policy-bad\.toml:4: rule 1: path '.*': Invalid regular expression[^\n]*\n$/,
      );
    }
  });
});
