import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { auditText, DUMP, fakeApiEnv, hostSecret } from "../support/e2e.js";
import type { SeenRequest } from "../support/fakes/anthropic.js";
import { openaiHandler, openaiWebSocketHandler } from "../support/fakes/openai.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { nixBuild, repoRoot } from "../support/nix.js";

// Codex takes seconds: its model-list refresh (chatgpt.com, unreachable here) retries before the turn.
const AGENT_TIMEOUT = 120_000;
const REPLY = "Hello from the fake OpenAI API";
const REAL = `sk-proj-${"e2eRealKey_9".repeat(12)}QQ`;
const PROMPT = "say hi";

/** Real Codex jailed by makeJailedCodex with `options`; `command` picks codex or bash. */
function jailed(name: string, command: string, options: string): string {
  const out = nixBuild(`let
    pkgs = import ${repoRoot}/test/hostpkgs { };
    jailedLib = import ${repoRoot}/nix/lib.nix { inherit pkgs; };
  in jailedLib.makeJailedCodex ({
    name = "${name}";
    command = "${command}";
    ${command === "codex" ? "" : `pkg = pkgs.symlinkJoin { name = "codex-and-bash"; paths = [ pkgs.codex pkgs.bash ]; };`}
  } // ${options})`);
  return join(out, "bin", name);
}

/** The key read on the host by a `command` source, instead of the spec's OPENAI_API_KEY. */
function fromCommand(secretPath: string): string {
  return `{ credentials.openai = {
    hosts = [ "api.openai.com" ];
    source.command = [ "/bin/cat" "${secretPath}" ];
    sandboxEnv = "CODEX_API_KEY";
  }; }`;
}

let api: Upstream;
const seen: SeenRequest[] = [];

beforeAll(async () => {
  api = await startHttpsUpstream(openaiHandler(REPLY, seen));
  api.server.on("upgrade", openaiWebSocketHandler(REPLY, seen));
});

afterAll(async () => {
  await api?.close();
});

describe.each(RUNNERS)("real Codex with an API key, run as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let codex: string;
  let shell: string;
  let codexDefault: string;

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    const secret = hostSecret(sandbox, runner, REAL);
    codex = jailed("jailed-codex-cmd", "codex", fromCommand(secret));
    shell = jailed("jailed-codex-bash", "bash", fromCommand(secret));
    codexDefault = jailed("jailed-codex", "codex", "{ }");
    env = fakeApiEnv(sandbox, api, ["api.openai.com"]);
  }, AGENT_TIMEOUT);
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  /** Runs `codex exec` and checks the answer came from the fake, which saw only the real key. */
  async function answers(wrapper: string, extraEnv: Record<string, string>): Promise<void> {
    const before = seen.length;
    const result = await runAsAsync(
      runner,
      sandbox,
      [wrapper, "exec", "--skip-git-repo-check", PROMPT],
      { ...env, ...extraEnv },
    );
    expect(result.stderr).not.toContain(REAL);
    expect(result.stdout).toBe(`${REPLY}\n`);
    expect(result.status).toBe(0);
    // Codex asks over a WebSocket (GET /v1/responses upgraded), falling back to POST over SSE.
    const calls = seen.slice(before).filter((r) => r.path.startsWith("/v1/responses"));
    expect(calls.some((call) => call.body.includes(PROMPT))).toBe(true);
    for (const call of calls) expect(call.headers.authorization).toBe(`Bearer ${REAL}`);
    const log = auditText(sandbox);
    expect(log).toContain('"credentials":["openai"]');
    expect(log).not.toContain(REAL);
  }

  it("`codex exec` answers from the fake Responses API, which gets the key a host command read", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    await answers(codex, {});
  });

  it("the spec's default credential: OPENAI_API_KEY on the host, a dummy CODEX_API_KEY inside", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    await answers(codexDefault, { OPENAI_API_KEY: REAL });
  });

  it("inside the jail, env, /proc/*/environ and /proc/*/cmdline hold only the dummy", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    const result = await runAsAsync(runner, sandbox, [shell, "-c", DUMP], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("DUMP-END");
    const dummy = /^CODEX_API_KEY=(.*)$/m.exec(result.stdout)?.[1];
    expect(dummy).toMatch(/^sk-proj-/);
    expect(dummy).toHaveLength(REAL.length);
    expect(result.stdout).toContain(`CODEX_API_KEY=${dummy}\0`);
    expect(result.stdout).not.toContain(REAL.slice(8, 40));
    expect(result.stderr).not.toContain(REAL.slice(8, 40));
  });
});
