export * from "./agent.js";
export * from "./credential.js";
export * from "./hardening.js";
export * from "./jail-config.js";
export * from "./policy.js";
