import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Real agents take seconds to start; a denied run waits out their own retries.
const AGENT_TIMEOUT = 120_000;

import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { fakeApiEnv } from "../support/e2e.js";
import { anthropicHandler, type SeenRequest } from "../support/fakes/anthropic.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox, spawnAs } from "../support/jail-run.js";
import { nixBuild, repoRoot } from "../support/nix.js";

const REPLY = "Hello from the fake Anthropic API";

/** Real Claude Code from npm, wrapped by hostpkgs, jailed by makeJailedClaudeCode. */
function jailedClaude(options: string): string {
  const out = nixBuild(`let
    pkgs = import ${repoRoot}/test/hostpkgs { config.allowUnfree = true; };
    jailedLib = import ${repoRoot}/nix/lib.nix { inherit pkgs; };
  in jailedLib.makeJailedClaudeCode ${options}`);
  return join(out, "bin", "jailed-claude");
}

function auditEntries(sandbox: Sandbox): Record<string, unknown>[] {
  const runs = join(sandbox.root, "state", "jailed", "runs");
  return readdirSync(runs)
    .sort()
    .flatMap((file) => readFileSync(join(runs, file), "utf8").trim().split("\n"))
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

let api: Upstream;
const seen: SeenRequest[] = [];
let allowed: string;
let withoutApi: string;

beforeAll(async () => {
  api = await startHttpsUpstream(anthropicHandler(REPLY, seen));
  allowed = jailedClaude(`{ fwdEnv = [ "ANTHROPIC_API_KEY" ]; }`);
  withoutApi = jailedClaude(
    `{ fwdEnv = [ "ANTHROPIC_API_KEY" ]; network.allow = [ "claude.ai" ]; }`,
  );
});

afterAll(async () => {
  await api?.close();
});

describe.each(RUNNERS)("real Claude Code in a jail, run as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    env = {
      ANTHROPIC_API_KEY: "sk-ant-api03-test-key",
      ...fakeApiEnv(sandbox, api, ["api.anthropic.com"]),
    };
  });
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  it("answers `claude -p hi` from the fake Messages API over SSE, through the proxy", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    const before = seen.length;
    const result = await runAsAsync(runner, sandbox, [allowed, "-p", "hi"], env);
    expect(result.stdout).toBe(`${REPLY}\n`);
    expect(result.status).toBe(0);
    const messages = seen
      .slice(before)
      .filter((request) => request.path.startsWith("/v1/messages"));
    expect(messages.length).toBeGreaterThan(0);
    expect(JSON.parse((messages[0] as SeenRequest).body)).toMatchObject({ stream: true });
    expect(auditEntries(sandbox)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          method: "POST",
          url: expect.stringMatching(/^https:\/\/api\.anthropic\.com\/v1\/messages/),
          decision: "allow",
          status: 200,
        }),
      ]),
    );
  });

  it("fails when the policy leaves out api.anthropic.com, with the 403 in the log and a notice", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    const fresh = makeSandbox(runner);
    const before = seen.length;
    const child = spawnAs(runner, fresh, [withoutApi, "-p", "hi"], {
      ...env,
      XDG_STATE_HOME: join(fresh.root, "state"),
      CLAUDE_CODE_MAX_RETRIES: "0",
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    // Claude Code gives up after its own retries, which can take long; the denial is what is tested,
    // so once it shows, the run gets a short while to end by itself and is then stopped.
    const denied = () => stderr.includes("jailed: denied CONNECT api.anthropic.com:443");
    for (let i = 0; i < 600 && !denied(); i++) await new Promise((r) => setTimeout(r, 100));
    const code = await Promise.race([
      exited,
      new Promise<"running">((r) => setTimeout(() => r("running"), 30_000)),
    ]);
    if (code === "running") child.kill("SIGTERM");
    expect(code === "running" ? await exited : code).not.toBe(0);
    expect(stdout).not.toContain(REPLY);
    expect(seen.length).toBe(before);
    const notices = stderr.split("\n").filter((line) => line.startsWith("jailed: denied"));
    expect(notices).toEqual([expect.stringContaining("api.anthropic.com")]);
    expect(auditEntries(fresh)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          url: "api.anthropic.com:443",
          decision: "deny",
          reason: "default-deny",
          status: 403,
        }),
      ]),
    );
    rmSync(fresh.root, { recursive: true, force: true });
  });
});
