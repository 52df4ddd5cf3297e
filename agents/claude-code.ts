import type { AgentSpec } from "../src/spec/agent.js";
import { apiHost, apiKeyCredential } from "./lib/api-keys.js";
import { githubCredential, githubGitEnv } from "./lib/github.js";

// Anthropic's list of the hosts Claude Code must reach.
const NETWORK_DOC = "https://code.claude.com/docs/en/network-config";
// Where a subscription login keeps its OAuth tokens on Linux
// (https://code.claude.com/docs/en/authentication), as `claudeAiOauth.{accessToken,refreshToken}`
// with `expiresAt` in milliseconds; the access token is refreshed at
// platform.claude.com/v1/oauth/token (https://github.com/anthropics/claude-code/issues/53063; the
// move from console.anthropic.com: https://github.com/NousResearch/hermes-agent/pull/3246).
const OAUTH_FILE = "~/.claude/.credentials.json";
const TOKEN_URL = "https://platform.claude.com/v1/oauth/token";

// Left out on purpose: statsig.anthropic.com (telemetry), sentry.io (error reports) and the update
// and download hosts; `env` turns them off and the proxy denies whatever is still tried.
export const claudeCode: AgentSpec = {
  id: "claude-code",
  displayName: "Claude Code",
  homepage: "https://github.com/anthropics/claude-code",
  nixAttr: "claude-code",
  command: "claude",
  // nixpkgs: `license = lib.licenses.unfree` in pkgs/by-name/cl/claude-code/package.nix.
  unfree: true,
  // Settings, sessions and the OAuth file live in ~/.claude; ~/.claude.json holds preferences and
  // account state: https://code.claude.com/docs/en/settings
  configPaths: ["~/.claude", "~/.claude.json"],
  hosts: [
    {
      host: apiHost("anthropic"),
      why: "Claude API, for both an API key and a subscription login",
      source: NETWORK_DOC,
    },
    { host: "claude.ai", why: "login with a Claude.ai subscription", source: NETWORK_DOC },
    {
      host: "platform.claude.com",
      why: "Console login and the OAuth token endpoint that refreshes a subscription login",
      source: NETWORK_DOC,
    },
  ],
  credentials: {
    github: githubCredential,
    anthropic: apiKeyCredential("anthropic", "ANTHROPIC_API_KEY"),
    "claude-oauth": {
      hosts: [apiHost("anthropic")],
      header: "authorization",
      format: "Bearer {token}",
      source: { file: OAUTH_FILE, pointer: "/claudeAiOauth/accessToken" },
      sandboxFile: OAUTH_FILE,
      oauth: {
        refreshPointer: "/claudeAiOauth/refreshToken",
        expiresAtPointer: "/claudeAiOauth/expiresAt",
        tokenUrls: [TOKEN_URL],
      },
    },
  },
  // A Bun/node program: its JIT needs writable-executable memory.
  hardening: "jit-runtime",
  // The last one implies the other three (and turns off /bug reports); each is still named, so none
  // depends on how a given release derives one switch from another.
  env: {
    ...githubGitEnv,
    DISABLE_AUTOUPDATER: "1", // https://code.claude.com/docs/en/env-vars
    DISABLE_TELEMETRY: "1", // https://code.claude.com/docs/en/env-vars
    DISABLE_ERROR_REPORTING: "1", // https://code.claude.com/docs/en/env-vars
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", // https://code.claude.com/docs/en/env-vars
  },
};
