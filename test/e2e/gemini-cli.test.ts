import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { auditText, DUMP, fakeApiEnv, hostSecret } from "../support/e2e.js";
import type { SeenRequest } from "../support/fakes/anthropic.js";
import { geminiHandler } from "../support/fakes/gemini.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { nixBuild, repoRoot } from "../support/nix.js";

const AGENT_TIMEOUT = 120_000;
const REPLY = "Hello from the fake Gemini API";
const REAL = `AIzaSy${"E2eRealKey_9".repeat(2)}E2eRealKe`;
const PROMPT = "say hi";

/** Real Gemini CLI jailed by makeJailedGeminiCli with `options`; `command` picks gemini or bash. */
function jailed(name: string, command: string, options: string): string {
  const out = nixBuild(`let
    pkgs = import ${repoRoot}/test/hostpkgs { };
    jailedLib = import ${repoRoot}/nix/lib.nix { inherit pkgs; };
  in jailedLib.makeJailedGeminiCli ({
    name = "${name}";
    command = "${command}";
    ${command === "gemini" ? "" : `pkg = pkgs.symlinkJoin { name = "gemini-and-bash"; paths = [ pkgs.gemini-cli pkgs.bash ]; };`}
  } // ${options})`);
  return join(out, "bin", name);
}

/** The key read on the host by a `command` source, instead of the spec's GEMINI_API_KEY. */
function fromCommand(secretPath: string): string {
  return `{ credentials.gemini = {
    hosts = [ "generativelanguage.googleapis.com" ];
    header = "x-goog-api-key";
    format = "{token}";
    source.command = [ "/bin/cat" "${secretPath}" ];
    sandboxEnv = "GEMINI_API_KEY";
  }; }`;
}

let api: Upstream;
const seen: SeenRequest[] = [];

beforeAll(async () => {
  api = await startHttpsUpstream(geminiHandler(REPLY, seen));
});

afterAll(async () => {
  await api?.close();
});

describe.each(RUNNERS)("real Gemini CLI with an API key, run as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let gemini: string;
  let shell: string;
  let geminiDefault: string;

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    const secret = hostSecret(sandbox, runner, REAL);
    gemini = jailed("jailed-gemini-cmd", "gemini", fromCommand(secret));
    shell = jailed("jailed-gemini-bash", "bash", fromCommand(secret));
    geminiDefault = jailed("jailed-gemini", "gemini", "{ }");
    env = fakeApiEnv(sandbox, api, ["generativelanguage.googleapis.com"]);
  }, AGENT_TIMEOUT);
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  /** Runs `gemini -p` and checks the answer came from the fake, which saw only the real key. */
  async function answers(wrapper: string, extraEnv: Record<string, string>): Promise<void> {
    const before = seen.length;
    // Headless runs refuse an untrusted folder; --skip-trust trusts it for this run only.
    const result = await runAsAsync(runner, sandbox, [wrapper, "--skip-trust", "-p", PROMPT], {
      ...env,
      ...extraEnv,
    });
    expect(result.stderr).not.toContain(REAL);
    expect(result.stdout).toBe(`${REPLY}\n`);
    expect(result.status).toBe(0);
    // The model router's classifier (generateContent, JSON) and then the turn itself (SSE).
    const calls = seen.slice(before);
    expect(calls.map((call) => call.path)).toContainEqual(
      expect.stringMatching(/^\/v1beta\/models\/[^/]+:streamGenerateContent\?alt=sse$/),
    );
    expect(calls.some((call) => call.body.includes(PROMPT))).toBe(true);
    for (const call of calls) expect(call.headers["x-goog-api-key"]).toBe(REAL);
    const log = auditText(sandbox);
    expect(log).toContain('"credentials":["gemini"]');
    expect(log).not.toContain(REAL);
  }

  it("`gemini -p` answers from the fake Gemini API, which gets the key a host command read", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    await answers(gemini, {});
  });

  it("the spec's default credential: GEMINI_API_KEY on the host, a dummy of it inside", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    await answers(geminiDefault, { GEMINI_API_KEY: REAL });
  });

  it("inside the jail, env, /proc/*/environ and /proc/*/cmdline hold only the dummy", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    const result = await runAsAsync(runner, sandbox, [shell, "-c", DUMP], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("DUMP-END");
    const dummy = /^GEMINI_API_KEY=(.*)$/m.exec(result.stdout)?.[1];
    expect(dummy).toMatch(/^AIza/);
    expect(dummy).toHaveLength(REAL.length);
    expect(result.stdout).toContain(`GEMINI_API_KEY=${dummy}\0`);
    expect(result.stdout).not.toContain(REAL.slice(6));
    expect(result.stderr).not.toContain(REAL.slice(6));
  });
});
