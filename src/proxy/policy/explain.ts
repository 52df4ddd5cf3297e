import type { Rule } from "../../spec/policy.js";
import type { CompiledRule } from "./compile.js";
import { DEFAULT_PORTS } from "./compile.js";

/** Value of the `x-jailed-denied` header and the audit log's `reason`. */
export type DenyReason = "default-deny" | "deny-rule" | "refused-address" | "host-mismatch";

/** What a denied client and the user are told. */
export interface Denial {
  reason: DenyReason;
  /** Plain-text 403 body: what was denied, why, and how to allow it. */
  body: string;
  /** The same on one line, for the runtime's stderr. */
  line: string;
}

/** What was asked for, as the client will recognise it. */
export interface Attempt {
  method: string;
  url: string;
  host: string;
  port: number;
}

/** A rule as the user wrote it, on one line: `deny host=evil.test path=/admin/**`. */
export function describeRule(rule: Rule): string {
  const parts: string[] = [rule.action, `host=${rule.host}`];
  if (rule.port !== undefined) parts.push(`port=${rule.port}`);
  if (rule.methods !== undefined) parts.push(`methods=${rule.methods.join(",")}`);
  if (rule.path !== undefined) parts.push(`path=${rule.path}`);
  if (rule.tls !== undefined) parts.push(`tls=${rule.tls}`);
  if (rule.credential !== undefined) parts.push(`credential=${rule.credential}`);
  return parts.join(" ");
}

/** The `jailed run` flag and the Nix line that allow host:port. */
export function allowHint(host: string, port: number): { flag: string; nix: string } {
  if (DEFAULT_PORTS.has(port)) {
    return { flag: `--allow-host ${host}`, nix: `network.allow = [ "${host}" ];` };
  }
  return {
    flag: `--allow-host ${host}:${port}`,
    nix: `network.allow = [ { host = "${host}"; port = ${port}; } ];`,
  };
}

export function explainPolicyDenial(attempt: Attempt, rule: CompiledRule | null): Denial {
  const why =
    rule === null
      ? `no rule allows ${attempt.host} on port ${attempt.port} (default deny)`
      : `rule ${rule.index} denies it: ${describeRule(rule.rule)}`;
  const hint = allowHint(attempt.host, attempt.port);
  const before = rule === null ? "" : ` (before rule ${rule.index})`;
  return denial(rule === null ? "default-deny" : "deny-rule", attempt, why, [
    `to allow it${before}: ${hint.flag}`,
    `or in Nix: ${hint.nix}`,
  ]);
}

export function explainRefusedAddress(
  attempt: Attempt,
  refused: readonly { address: string; range: string }[],
): Denial {
  const answers = refused.map((r) => `${r.address} (${r.range})`).join(", ");
  const first = refused[0]?.address ?? attempt.host;
  const hint = allowHint(first, attempt.port);
  return denial(
    "refused-address",
    attempt,
    `${attempt.host} resolves to ${answers}; the proxy does not dial loopback, private, ` +
      "link-local, metadata or multicast addresses unless a rule names the address",
    [`to allow that address: ${hint.flag}`, `or in Nix: ${hint.nix}`],
  );
}

export function explainHostMismatch(attempt: Attempt, hostHeader: string): Denial {
  return denial(
    "host-mismatch",
    attempt,
    `the Host header names '${hostHeader}' but the tunnel was opened to ${attempt.host}`,
    [],
  );
}

function denial(reason: DenyReason, attempt: Attempt, why: string, hints: string[]): Denial {
  const what = `jailed: denied ${attempt.method} ${attempt.url}`;
  return {
    reason,
    body: [what, `reason: ${why}`, ...hints, ""].join("\n"),
    line: [`${what}: ${why}`, ...hints.slice(0, 1)].join("; "),
  };
}
