import { HARDENING_PROFILES, type Hardening } from "../spec/hardening.js";
import type { JailConfig } from "../spec/jail-config.js";
import { JailSetupError } from "./errors.js";

/**
 * What a wrapper's user may change at run time, through the environment: a wrapper's argv belongs to
 * the agent. An unknown JAILED_* variable stops the run, so a typo never silently runs with defaults.
 */
const OVERRIDES: Record<string, (config: JailConfig, value: string) => JailConfig> = {
  JAILED_HARDENING: (config, value) => {
    if (!(HARDENING_PROFILES as readonly string[]).includes(value)) {
      throw new JailSetupError(
        `JAILED_HARDENING must be one of ${HARDENING_PROFILES.join(", ")} (got ${JSON.stringify(value)})`,
      );
    }
    return { ...config, hardening: value as Hardening };
  },
};

/** Variables the test suite sets for the proxy's loopback stand-ins; read where they are used. */
const READ_ELSEWHERE = new Set([
  "JAILED_TEST_UPSTREAMS",
  "JAILED_TEST_UPSTREAM_CA",
  "JAILED_TEST_RESOLVE",
]);

export function applyOverrides(
  config: JailConfig,
  env: Readonly<Record<string, string | undefined>>,
): JailConfig {
  let result = config;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("JAILED_") || value === undefined || READ_ELSEWHERE.has(name)) continue;
    const apply = OVERRIDES[name];
    if (apply === undefined) {
      throw new JailSetupError(
        `unknown variable ${name}; jailed reads ${[...Object.keys(OVERRIDES), ...READ_ELSEWHERE].join(", ")}`,
      );
    }
    result = apply(result, value);
  }
  return result;
}
