import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { fakeApiEnv, hostSecret } from "../support/e2e.js";
import { anthropicHandler, type SeenRequest } from "../support/fakes/anthropic.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { nixBuild, repoRoot } from "../support/nix.js";

const AGENT_TIMEOUT = 120_000;
const REPLY = "Hello from the fake Anthropic API";
const REAL = `sk-ant-api03-${"e2eRealKey_9".repeat(8)}QQ`;

/** Real Claude Code, its API key read on the host by a `command` source; `claude` or bash runs. */
function jailed(secretPath: string, command: string): string {
  const out = nixBuild(`let
    pkgs = import ${repoRoot}/test/hostpkgs { config.allowUnfree = true; };
    jailedLib = import ${repoRoot}/nix/lib.nix { inherit pkgs; };
  in jailedLib.makeJailedClaudeCode {
    name = "jailed-claude-${command}";
    command = "${command}";
    ${command === "claude" ? "" : `pkg = pkgs.symlinkJoin { name = "claude-and-bash"; paths = [ pkgs.claude-code pkgs.bash ]; };`}
    credentials.anthropic = {
      hosts = [ "api.anthropic.com" ];
      header = "x-api-key";
      format = "{token}";
      source.command = [ "/bin/cat" "${secretPath}" ];
      sandboxEnv = "ANTHROPIC_API_KEY";
    };
  }`);
  return join(out, "bin", `jailed-claude-${command}`);
}

// Inside the jail: the environment, every process's environ and cmdline, and every readable file
// under home, cwd and /tmp, printed for this process to search (the jail has no grep).
const DUMP = `
env
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done
shopt -s globstar dotglob nullglob
for f in "$HOME"/** "$PWD"/** /tmp/**; do [ -f "$f" ] && [ -r "$f" ] && cat "$f" 2>/dev/null; done
echo DUMP-END
`;

let api: Upstream;
const seen: SeenRequest[] = [];

beforeAll(async () => {
  api = await startHttpsUpstream(anthropicHandler(REPLY, seen));
});

afterAll(async () => {
  await api?.close();
});

describe.each(RUNNERS)("Claude Code with a key from a host command, run as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let claude: string;
  let shell: string;

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    const secret = hostSecret(sandbox, runner, REAL);
    claude = jailed(secret, "claude");
    shell = jailed(secret, "bash");
    env = fakeApiEnv(sandbox, api, ["api.anthropic.com"]);
  }, AGENT_TIMEOUT);
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  it("the fake API receives the real key; the agent works", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    const before = seen.length;
    const result = await runAsAsync(runner, sandbox, [claude, "-p", "hi"], env);
    expect(result.stderr).not.toContain(REAL);
    expect(result.stdout).toBe(`${REPLY}\n`);
    expect(result.status).toBe(0);
    const messages = seen.slice(before).filter((r) => r.path.startsWith("/v1/messages"));
    expect(messages.length).toBeGreaterThan(0);
    for (const message of messages) expect(message.headers["x-api-key"]).toBe(REAL);
    const runs = join(sandbox.root, "state", "jailed", "runs");
    const audit = readdirSync(runs)
      .map((file) => readFileSync(join(runs, file), "utf8"))
      .join("");
    expect(audit).toContain('"credentials":["anthropic"]');
    expect(audit).not.toContain(REAL);
  });

  it("inside the jail, env, /proc/*/environ, /proc/*/cmdline and files hold only the dummy", {
    timeout: AGENT_TIMEOUT,
  }, async () => {
    const result = await runAsAsync(runner, sandbox, [shell, "-c", DUMP], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("DUMP-END");
    // The dump did read files: the project's README is in it.
    expect(result.stdout).toContain("the project");
    const dummy = /^ANTHROPIC_API_KEY=(.*)$/m.exec(result.stdout)?.[1];
    expect(dummy).toMatch(/^sk-ant-api03-/);
    expect(dummy).toHaveLength(REAL.length);
    expect(result.stdout).toContain(`ANTHROPIC_API_KEY=${dummy}\0`);
    expect(result.stdout).not.toContain(REAL);
    // No part of it either: the key's body, split anywhere, is not there.
    expect(result.stdout).not.toContain(REAL.slice(13, 40));
    expect(result.stderr).not.toContain(REAL.slice(13, 40));
  });
});

it("a failing command source stops the run with exit 2, naming the credential, not its output", {
  timeout: AGENT_TIMEOUT,
}, async () => {
  const runner = RUNNERS[0] as (typeof RUNNERS)[number];
  const sandbox = makeSandbox(runner);
  try {
    const failing = jailed(join(sandbox.root, "no-such-secret"), "claude");
    const result = await runAsAsync(runner, sandbox, [failing, "-p", "hi"], {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      'jailed: credential anthropic: command "/bin/cat" exited with status 1\n',
    );
    // cat's own complaint names the path; it is not passed on.
    expect(result.stderr).not.toContain("No such file");
  } finally {
    rmSync(sandbox.root, { recursive: true, force: true });
  }
});
