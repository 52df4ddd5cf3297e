import type { AgentSpec } from "../src/spec/agent.js";
import { apiHost, apiKeyCredential } from "./lib/api-keys.js";
import { githubCredential, githubGitEnv } from "./lib/github.js";

// Picks api.openai.com for an API key and chatgpt.com for a ChatGPT-plan login.
const PROVIDER_SOURCE =
  "https://github.com/openai/codex/blob/main/codex-rs/core/src/model_provider_info.rs";

// A ChatGPT-plan login keeps its tokens in ~/.codex/auth.json as `tokens.{id_token,access_token,
// refresh_token}` (the first two JWTs whose claims Codex reads):
// https://github.com/openai/codex/blob/main/codex-rs/login/src/auth/storage.rs
// They are refreshed with a JSON POST to auth.openai.com/oauth/token (REFRESH_TOKEN_URL):
// https://github.com/openai/codex/blob/main/codex-rs/login/src/auth/manager.rs
const AUTH_FILE = "~/.codex/auth.json";

// Left out on purpose: ab.chatgpt.com (OpenTelemetry metrics) and the GitHub release check.
// Codex has no environment switch for its analytics or update check (both are config.toml
// settings), so `env` is empty and the proxy denies those hosts. Its analytics events go to
// chatgpt.com/backend-api/codex/analytics-events, the host a ChatGPT login needs, so only a path
// rule keeps them in: https://github.com/meridianlabs-ai/inspect_swe/pull/50
export const codex: AgentSpec = {
  id: "codex",
  displayName: "Codex CLI",
  homepage: "https://github.com/openai/codex",
  nixAttr: "codex",
  command: "codex",
  // nixpkgs: `license = lib.licenses.asl20` in pkgs/by-name/co/codex/package.nix.
  unfree: false,
  // CODEX_HOME's default: config.toml, auth.json, sessions and logs.
  // https://github.com/openai/codex/blob/main/docs/authentication.md
  configPaths: ["~/.codex"],
  hosts: [
    {
      host: apiHost("openai"),
      why: "Responses API when signed in with an API key",
      source: PROVIDER_SOURCE,
    },
    {
      host: "chatgpt.com",
      why: "Responses API of a ChatGPT-plan login (backend-api/codex)",
      source: PROVIDER_SOURCE,
    },
    {
      host: "auth.openai.com",
      why: "ChatGPT login and its token exchange and refresh",
      source: "https://github.com/openai/codex/blob/main/codex-rs/login/src/server.rs",
    },
  ],
  credentials: {
    github: githubCredential,
    // Codex takes a key from the environment only as CODEX_API_KEY, and only in `codex exec`; the
    // interactive UI uses the key or ChatGPT tokens saved by `codex login` in auth.json.
    // https://github.com/openai/codex/blob/main/codex-rs/login/src/auth/manager.rs
    openai: apiKeyCredential("openai", "CODEX_API_KEY"),
    chatgpt: {
      hosts: ["chatgpt.com"],
      header: "authorization",
      format: "Bearer {token}",
      source: { file: AUTH_FILE, pointer: "/tokens/access_token" },
      sandboxFile: AUTH_FILE,
      // auth.json keeps no expiry; Codex reads the access token's own `exp` claim.
      oauth: {
        refreshPointer: "/tokens/refresh_token",
        tokenUrls: ["https://auth.openai.com/oauth/token"],
      },
    },
  },
  // A native Rust binary.
  hardening: "default",
  env: { ...githubGitEnv },
};
