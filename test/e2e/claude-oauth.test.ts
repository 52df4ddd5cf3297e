// Real Claude Code with a subscription login (no API key) whose access token has expired: it
// refreshes the login through the proxy, against a fake OAuth token endpoint and a fake API.
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { auditText, fakeApiEnv } from "../support/e2e.js";
import { anthropicHandler, type SeenRequest } from "../support/fakes/anthropic.js";
import { oauthTokenHandler } from "../support/fakes/oauth.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { nixBuild, repoRoot } from "../support/nix.js";

const AGENT_TIMEOUT = 120_000;
const REPLY = "Hello from the fake Anthropic API";
const ACCESS = `sk-ant-oat01-${"e2eOldAccess".repeat(8)}AA`;
const REFRESH = `sk-ant-ort01-${"e2eOldRefrsh".repeat(8)}AA`;
const NEW_ACCESS = `sk-ant-oat01-${"e2eNewAccess".repeat(8)}AA`;
const NEW_REFRESH = `sk-ant-ort01-${"e2eNewRefrsh".repeat(8)}AA`;
const SECRETS = [ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH];
const TOKEN_PATH = "/v1/oauth/token";

/** Real Claude Code jailed by makeJailedClaudeCode with the spec's credentials; `claude` or bash runs. */
function jailed(command: string): string {
  const out = nixBuild(`let
    pkgs = import ${repoRoot}/test/hostpkgs { config.allowUnfree = true; };
    jailedLib = import ${repoRoot}/nix/lib.nix { inherit pkgs; };
  in jailedLib.makeJailedClaudeCode {
    name = "jailed-claude-login-${command}";
    command = "${command}";
    ${command === "claude" ? "" : `pkg = pkgs.symlinkJoin { name = "claude-and-bash"; paths = [ pkgs.claude-code pkgs.bash ]; };`}
  }`);
  return join(out, "bin", `jailed-claude-login-${command}`);
}

/** A subscription login as `claude /login` leaves it, its access token expired a minute ago. */
function writeLogin(sandbox: Sandbox, uid: number | null): string {
  const dir = join(sandbox.home, ".claude");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, ".credentials.json");
  const login = {
    claudeAiOauth: {
      accessToken: ACCESS,
      refreshToken: REFRESH,
      expiresAt: Date.now() - 60_000,
      scopes: ["user:inference", "user:profile", "user:sessions:claude_code"],
      subscriptionType: "max",
    },
  };
  writeFileSync(file, JSON.stringify(login), { mode: 0o600 });
  if (uid !== null) for (const path of [dir, file]) chownSync(path, uid, uid);
  return file;
}

let server: Upstream;
const api: SeenRequest[] = [];
const token: SeenRequest[] = [];
let claude: string;
let shell: string;

beforeAll(async () => {
  const toApi = anthropicHandler(REPLY, api);
  const toToken = oauthTokenHandler(
    REFRESH,
    { accessToken: NEW_ACCESS, refreshToken: NEW_REFRESH, expiresIn: 28_800 },
    token,
  );
  server = await startHttpsUpstream((req: http.IncomingMessage, res: http.ServerResponse) =>
    (req.url?.startsWith(TOKEN_PATH) ? toToken : toApi)(req, res),
  );
  claude = jailed("claude");
  shell = jailed("bash");
}, AGENT_TIMEOUT);

afterAll(async () => {
  await server?.close();
});

describe.each(RUNNERS)(
  "real Claude Code with an expired subscription login, run as $label",
  (runner) => {
    let sandbox: Sandbox;
    let env: Record<string, string>;
    let login: string;

    beforeAll(() => {
      sandbox = makeSandbox(runner);
      login = writeLogin(sandbox, runner.uid);
      env = fakeApiEnv(sandbox, server, ["api.anthropic.com", "platform.claude.com"]);
    });
    afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

    it("the jail's copy of the login holds dummies for both tokens", {
      timeout: AGENT_TIMEOUT,
    }, async () => {
      const result = await runAsAsync(
        runner,
        sandbox,
        [shell, "-c", "cat ~/.claude/.credentials.json"],
        env,
      );
      expect(result.status).toBe(0);
      const copy = JSON.parse(result.stdout).claudeAiOauth;
      expect(copy.accessToken).toMatch(/^sk-ant-oat01-/);
      expect(copy.accessToken).toHaveLength(ACCESS.length);
      expect(copy.refreshToken).toMatch(/^sk-ant-ort01-/);
      expect(copy.refreshToken).toHaveLength(REFRESH.length);
      for (const secret of SECRETS) expect(result.stdout).not.toContain(secret.slice(13, 40));
    });

    it("`claude -p hi` refreshes through the proxy: real tokens outside, dummies inside", {
      timeout: AGENT_TIMEOUT,
    }, async () => {
      const before = { api: api.length, token: token.length };
      // One jail: the agent runs, then the jail's view of the login file is dumped.
      const result = await runAsAsync(
        runner,
        sandbox,
        [shell, "-c", 'claude -p hi; echo "STATUS=$?"; cat ~/.claude/.credentials.json'],
        env,
      );
      expect(result.stdout).toContain(`${REPLY}\nSTATUS=0\n`);
      // The token endpoint got the real refresh token, once.
      const refreshes = token.slice(before.token);
      expect(refreshes).toHaveLength(1);
      expect(JSON.parse((refreshes[0] as SeenRequest).body)).toMatchObject({
        grant_type: "refresh_token",
        refresh_token: REFRESH,
      });
      // The API got the new real access token, only.
      const messages = api.slice(before.api).filter((r) => r.path.startsWith("/v1/messages"));
      expect(messages.length).toBeGreaterThan(0);
      for (const message of messages)
        expect(message.headers.authorization).toBe(`Bearer ${NEW_ACCESS}`);
      // The agent saved the refresh in its copy: dummies of the new tokens.
      const copy = JSON.parse(
        result.stdout.slice(result.stdout.indexOf("STATUS=0\n") + 9),
      ).claudeAiOauth;
      expect(copy.accessToken).toMatch(/^sk-ant-oat01-/);
      expect(copy.accessToken).toHaveLength(NEW_ACCESS.length);
      expect(copy.refreshToken).toMatch(/^sk-ant-ort01-/);
      expect(copy.expiresAt).toBeGreaterThan(Date.now());
      for (const secret of SECRETS) {
        expect(result.stdout).not.toContain(secret.slice(13, 40));
        expect(result.stderr).not.toContain(secret.slice(13, 40));
      }
      // The host's login holds the new real tokens, for the next run and the host's own agent.
      const saved = JSON.parse(readFileSync(login, "utf8")).claudeAiOauth;
      expect(saved).toMatchObject({ accessToken: NEW_ACCESS, refreshToken: NEW_REFRESH });
      expect(saved.expiresAt).toBeGreaterThan(Date.now());
      expect(saved.scopes).toEqual(["user:inference", "user:profile", "user:sessions:claude_code"]);
      const audit = auditText(sandbox);
      expect(audit).toContain('"credentials":["claude-oauth"]');
      for (const secret of SECRETS) expect(audit).not.toContain(secret);
    });

    it("the next run starts from the saved login: no refresh, the new real token upstream", {
      timeout: AGENT_TIMEOUT,
    }, async () => {
      const before = { api: api.length, token: token.length };
      const result = await runAsAsync(runner, sandbox, [claude, "-p", "hi"], env);
      expect(result.stdout).toBe(`${REPLY}\n`);
      expect(result.status).toBe(0);
      expect(token.length).toBe(before.token);
      const messages = api.slice(before.api).filter((r) => r.path.startsWith("/v1/messages"));
      expect(messages.length).toBeGreaterThan(0);
      for (const message of messages)
        expect(message.headers.authorization).toBe(`Bearer ${NEW_ACCESS}`);
    });
  },
);
