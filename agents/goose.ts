import type { AgentSpec } from "../src/spec/agent.js";
import { apiHost, apiKeyCredential } from "./lib/api-keys.js";
import { githubCredential, githubGitEnv } from "./lib/github.js";

// Each provider's default host and the variable goose reads its key from.
const PROVIDERS = "https://github.com/block/goose/blob/main/crates/goose/src/providers";

// Left out on purpose: the PostHog endpoint of goose's anonymous usage data, which `env` turns off.
export const goose: AgentSpec = {
  id: "goose",
  displayName: "goose",
  homepage: "https://github.com/block/goose",
  nixAttr: "goose-cli",
  command: "goose",
  // nixpkgs: `license = lib.licenses.asl20` in pkgs/by-name/go/goose-cli/package.nix.
  unfree: false,
  // config.yaml (and secrets.yaml when no keyring is reachable, as in the jail), session records,
  // logs: https://block.github.io/goose/docs/guides/config-files and
  // https://github.com/block/goose/blob/main/documentation/docs/guides/logs.md
  configPaths: ["~/.config/goose", "~/.local/share/goose", "~/.local/state/goose"],
  hosts: [
    { host: apiHost("anthropic"), why: "Anthropic models", source: `${PROVIDERS}/anthropic.rs` },
    { host: apiHost("openai"), why: "OpenAI models", source: `${PROVIDERS}/openai.rs` },
    { host: apiHost("gemini"), why: "Google Gemini models", source: `${PROVIDERS}/google.rs` },
  ],
  credentials: {
    github: githubCredential,
    anthropic: apiKeyCredential("anthropic", "ANTHROPIC_API_KEY"),
    openai: apiKeyCredential("openai", "OPENAI_API_KEY"),
    gemini: apiKeyCredential("gemini", "GOOGLE_API_KEY"),
  },
  // A native Rust binary.
  hardening: "default",
  env: {
    ...githubGitEnv,
    // Off unless opted in; pinned because goose reads a setting from the environment before
    // config.yaml, so an earlier opt-in there stays without effect in the jail.
    GOOSE_TELEMETRY_ENABLED: "false", // https://block.github.io/goose/docs/guides/environment-variables
  },
};
