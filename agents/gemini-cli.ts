import type { AgentSpec } from "../src/spec/agent.js";
import { apiHost, apiKeyCredential } from "./lib/api-keys.js";
import { githubCredential, githubGitEnv } from "./lib/github.js";

// "Login with Google" keeps its OAuth tokens in ~/.gemini/oauth_creds.json as google-auth-library's
// credentials (`access_token`, `refresh_token`, `expiry_date` in milliseconds):
// https://github.com/google-gemini/gemini-cli/blob/main/packages/core/src/code_assist/oauth2.ts
// The library refreshes them with a form POST to oauth2.googleapis.com/token, and checks the access
// token at oauth2.googleapis.com/tokeninfo (Bearer) before it uses a cached login:
// https://github.com/googleapis/google-auth-library-nodejs/blob/main/src/auth/oauth2client.ts
const OAUTH_FILE = "~/.gemini/oauth_creds.json";
const TOKEN_HOST = "oauth2.googleapis.com";

// Left out on purpose: play.googleapis.com (Clearcut usage statistics) and the npm registry (update
// check), both switched off only in settings.json (`privacy.usageStatisticsEnabled`,
// `general.enableAutoUpdateNotification`), so the proxy denies them; and www.googleapis.com, where
// the CLI reads the account's e-mail after a login: that call may fail harmlessly, and the host
// serves every other Google API as well.
export const geminiCli: AgentSpec = {
  id: "gemini-cli",
  displayName: "Gemini CLI",
  homepage: "https://github.com/google-gemini/gemini-cli",
  nixAttr: "gemini-cli",
  command: "gemini",
  // nixpkgs: `license = lib.licenses.asl20` in pkgs/by-name/ge/gemini-cli/package.nix.
  unfree: false,
  // settings.json, the OAuth tokens (oauth_creds.json) and session history.
  // https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/configuration.md
  configPaths: ["~/.gemini"],
  hosts: [
    {
      host: apiHost("gemini"),
      why: "Gemini API, for an API key",
      source: "https://ai.google.dev/api/generate-content",
    },
    {
      host: "cloudcode-pa.googleapis.com",
      why: "Code Assist API behind 'Login with Google'",
      source:
        "https://github.com/google-gemini/gemini-cli/blob/main/packages/core/src/code_assist/server.ts",
    },
    {
      host: TOKEN_HOST,
      why: "Google OAuth token exchange, refresh and token check of 'Login with Google'",
      source:
        "https://github.com/googleapis/google-auth-library-nodejs/blob/main/src/auth/oauth2client.ts",
    },
  ],
  credentials: {
    github: githubCredential,
    gemini: apiKeyCredential("gemini", "GEMINI_API_KEY"),
    "google-oauth": {
      hosts: ["cloudcode-pa.googleapis.com", TOKEN_HOST],
      header: "authorization",
      format: "Bearer {token}",
      source: { file: OAUTH_FILE, pointer: "/access_token" },
      sandboxFile: OAUTH_FILE,
      oauth: {
        refreshPointer: "/refresh_token",
        expiresAtPointer: "/expiry_date",
        tokenUrls: [`https://${TOKEN_HOST}/token`],
      },
    },
  },
  // A node program: its JIT needs writable-executable memory.
  hardening: "jit-runtime",
  env: {
    ...githubGitEnv,
    // Off by default; pinned so a settings.json cannot turn OpenTelemetry export on.
    GEMINI_TELEMETRY_ENABLED: "false", // https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/telemetry.md
    // Keeps the CLI one process instead of re-spawning itself with a bigger heap, so signals and
    // the exit code reach the jail's runner directly.
    GEMINI_CLI_NO_RELAUNCH: "true", // https://github.com/google-gemini/gemini-cli/blob/main/packages/cli/src/gemini.tsx
  },
};
