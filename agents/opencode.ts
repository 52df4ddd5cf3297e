import type { AgentSpec } from "../src/spec/agent.js";
import { apiHost, apiKeyCredential } from "./lib/api-keys.js";
import { githubCredential, githubGitEnv } from "./lib/github.js";

// opencode reaches each provider through its AI SDK package; these are the three main ones.
const AI_SDK = "https://github.com/vercel/ai/blob/main/packages";

// Left out on purpose: models.dev (model catalogue; nixpkgs builds a copy in, see
// MODELS_DEV_API_JSON in pkgs/by-name/op/opencode/package.nix), the update check, LSP-server
// downloads, session sharing (off unless OPENCODE_AUTO_SHARE is set) and the npm registry, from
// which opencode installs plugins and non-bundled providers at run time.
export const opencode: AgentSpec = {
  id: "opencode",
  displayName: "opencode",
  homepage: "https://github.com/anomalyco/opencode",
  nixAttr: "opencode",
  command: "opencode",
  // nixpkgs: `license = lib.licenses.mit` in pkgs/by-name/op/opencode/package.nix.
  unfree: false,
  // XDG config, data (auth.json, sessions, logs) and state (recent models, prompt history).
  // https://github.com/anomalyco/opencode/blob/HEAD/packages/opencode/src/global/index.ts
  configPaths: ["~/.config/opencode", "~/.local/share/opencode", "~/.local/state/opencode"],
  hosts: [
    {
      host: apiHost("anthropic"),
      why: "Anthropic models",
      source: `${AI_SDK}/anthropic/src/anthropic-provider.ts`,
    },
    {
      host: apiHost("openai"),
      why: "OpenAI models",
      source: `${AI_SDK}/openai/src/openai-provider.ts`,
    },
    {
      host: apiHost("gemini"),
      why: "Google Gemini models",
      source: `${AI_SDK}/google/src/google-provider.ts`,
    },
  ],
  // The variables each provider reads, as listed by models.dev, opencode's provider catalogue:
  // https://github.com/anomalyco/models.dev/tree/HEAD/providers
  credentials: {
    github: githubCredential,
    anthropic: apiKeyCredential("anthropic", "ANTHROPIC_API_KEY"),
    openai: apiKeyCredential("openai", "OPENAI_API_KEY"),
    gemini: apiKeyCredential("gemini", "GOOGLE_GENERATIVE_AI_API_KEY"),
  },
  // A Bun program: its JIT needs writable-executable memory.
  hardening: "jit-runtime",
  env: {
    ...githubGitEnv,
    OPENCODE_DISABLE_AUTOUPDATE: "true", // https://opencode.ai/docs/cli/#environment-variables
    OPENCODE_DISABLE_MODELS_FETCH: "true", // https://opencode.ai/docs/cli/#environment-variables
    OPENCODE_DISABLE_LSP_DOWNLOAD: "true", // https://opencode.ai/docs/cli/#environment-variables
  },
};
