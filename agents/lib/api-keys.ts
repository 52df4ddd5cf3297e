import type { AgentCredential } from "../../src/spec/agent.js";

/**
 * The model vendors' API keys. Each is read on the host from the variable its vendor documents, so
 * a user sets it once for every agent; an agent only says which variable it reads inside the jail.
 */
const API_KEYS = {
  // Sent as `x-api-key`: https://platform.claude.com/docs/en/api/overview
  anthropic: {
    host: "api.anthropic.com",
    header: "x-api-key",
    format: "{token}",
    hostEnv: "ANTHROPIC_API_KEY",
  },
  // Sent as a bearer token: https://platform.openai.com/docs/api-reference/authentication
  openai: {
    host: "api.openai.com",
    header: "authorization",
    format: "Bearer {token}",
    hostEnv: "OPENAI_API_KEY",
  },
  // Sent as `x-goog-api-key`: https://ai.google.dev/api/generate-content
  gemini: {
    host: "generativelanguage.googleapis.com",
    header: "x-goog-api-key",
    format: "{token}",
    hostEnv: "GEMINI_API_KEY",
  },
} as const;

export type ApiVendor = keyof typeof API_KEYS;

/** The host that serves `vendor`'s model API and accepts its key. */
export function apiHost(vendor: ApiVendor): string {
  return API_KEYS[vendor].host;
}

/** `vendor`'s API key as a credential, its dummy placed in `sandboxEnv` inside the jail. */
export function apiKeyCredential(vendor: ApiVendor, sandboxEnv: string): AgentCredential {
  const { host, header, format, hostEnv } = API_KEYS[vendor];
  return { hosts: [host], header, format, source: { env: hostEnv }, sandboxEnv };
}
