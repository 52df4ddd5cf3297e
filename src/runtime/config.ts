import { readFileSync } from "node:fs";
import * as v from "valibot";
import { JAIL_CONFIG_VERSION, type JailConfig, JailConfigSchema } from "../spec/jail-config.js";
import { JailSetupError } from "./errors.js";

function issuePath(issue: v.BaseIssue<unknown>): string {
  const keys = (issue.path ?? []).map((item) => String(item.key));
  return keys.length === 0 ? "(top level)" : keys.join(".");
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  // A strict object reports an unknown key as a key issue whose input is the key itself.
  if (issue.kind === "schema" && issue.type === "strict_object" && issue.expected === "never") {
    const parent = (issue.path ?? []).slice(0, -1).map((item) => String(item.key));
    return `unknown field ${JSON.stringify(String(issue.input))} in ${parent.length === 0 ? "(top level)" : parent.join(".")}`;
  }
  return `${issuePath(issue)}: ${issue.message}`;
}

/** Validates a parsed JailConfig; throws JailSetupError naming every problem. */
export function parseJailConfig(value: unknown, origin: string): JailConfig {
  const version = (value as { version?: unknown } | null)?.version;
  if (version !== JAIL_CONFIG_VERSION) {
    throw new JailSetupError(
      `${origin}: jail config version ${JSON.stringify(version)} is not supported (this runtime reads version ${JAIL_CONFIG_VERSION}); rebuild the wrapper with a matching jailed`,
    );
  }
  const result = v.safeParse(JailConfigSchema, value);
  if (!result.success) {
    const problems = result.issues.map((issue) => `  - ${describeIssue(issue)}`).join("\n");
    throw new JailSetupError(`${origin}: invalid jail config:\n${problems}`);
  }
  return result.output;
}

export function readJailConfig(path: string): JailConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new JailSetupError(`cannot read jail config ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JailSetupError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  return parseJailConfig(value, path);
}
