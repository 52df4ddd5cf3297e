import type { AgentSpec } from "../src/spec/agent.js";
import { apiHost, apiKeyCredential } from "./lib/api-keys.js";
import { githubCredential, githubGitEnv } from "./lib/github.js";

// Crush's README: its provider variables, config and data paths, and its metrics and
// provider-update switches.
const README = "https://github.com/charmbracelet/crush#readme";

// Left out on purpose: catwalk.charm.sh (provider catalogue; the copy built into the binary is used
// instead) and the PostHog metrics endpoint; `env` turns both off and the proxy denies them.
export const crush: AgentSpec = {
  id: "crush",
  displayName: "Crush",
  homepage: "https://github.com/charmbracelet/crush",
  nixAttr: "crush",
  command: "crush",
  // nixpkgs: `license = lib.licenses.fsl11Mit` (pkgs/by-name/cr/crush/package.nix), which
  // lib/licenses.nix marks `free = false`.
  unfree: true,
  // Global crush.json, and the data directory (state, cached provider list).
  configPaths: ["~/.config/crush", "~/.local/share/crush"],
  hosts: [
    { host: apiHost("anthropic"), why: "Anthropic models", source: README },
    { host: apiHost("openai"), why: "OpenAI models", source: README },
    {
      host: apiHost("gemini"),
      why: "Google Gemini models",
      source: "https://ai.google.dev/api/generate-content",
    },
  ],
  credentials: {
    github: githubCredential,
    anthropic: apiKeyCredential("anthropic", "ANTHROPIC_API_KEY"),
    openai: apiKeyCredential("openai", "OPENAI_API_KEY"),
    gemini: apiKeyCredential("gemini", "GEMINI_API_KEY"),
  },
  // A native Go binary.
  hardening: "default",
  env: {
    ...githubGitEnv,
    CRUSH_DISABLE_METRICS: "1", // https://github.com/charmbracelet/crush#metrics
    CRUSH_DISABLE_PROVIDER_AUTO_UPDATE: "1", // https://github.com/charmbracelet/crush#provider-auto-updates
  },
};
