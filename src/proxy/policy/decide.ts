import { ipFamily } from "../address.js";
import type { CompiledPolicy, CompiledRule } from "./compile.js";
import { parentDomains } from "./host.js";
import { hasHiddenDotSegments } from "./path.js";

/** One request as policy sees it: `host` normalised, `path` normalised, without the query. */
export interface RequestFacts {
  host: string;
  port: number;
  method: string;
  path: string;
}

/** `rule` is the deciding rule, or null when no rule matched (default deny). */
export interface Decision {
  allow: boolean;
  rule: CompiledRule | null;
}

/** What to do with `CONNECT host:port`, before any request inside the tunnel is seen. */
export type ConnectDecision =
  | { action: "deny"; rule: CompiledRule | null }
  | { action: "inspect" | "passthrough"; rule: CompiledRule };

/** First matching rule wins; no match denies. */
export function decide(policy: CompiledPolicy, facts: RequestFacts): Decision {
  const rule = firstRule(policy, facts.host, (candidate) => matchesRequest(candidate, facts));
  return { allow: rule?.rule.action === "allow", rule: rule ?? null };
}

/**
 * The host-level question for CONNECT: could a rule allow some request to host:port? Rules that
 * depend on method or path cannot deny the whole host, so they are passed over until an allow
 * rule (inspect) or an unconditional deny settles it. A tunnel passes through undecrypted only
 * when a passthrough rule is the very first rule that matches host and port; otherwise every
 * request inside is decrypted and decided in full.
 */
export function decideConnect(policy: CompiledPolicy, host: string, port: number): ConnectDecision {
  const first = firstRule(policy, host, (candidate) => candidate.ports.has(port));
  if (first?.rule.tls === "passthrough") return { action: "passthrough", rule: first };
  const settling = firstRule(
    policy,
    host,
    (candidate) =>
      candidate.ports.has(port) &&
      (candidate.rule.action === "allow" ||
        (candidate.methods === null && candidate.path === null)),
  );
  if (settling === undefined) return { action: "deny", rule: null };
  if (settling.rule.action === "deny") return { action: "deny", rule: settling };
  return { action: "inspect", rule: settling };
}

function matchesRequest(rule: CompiledRule, facts: RequestFacts): boolean {
  return (
    rule.ports.has(facts.port) &&
    (rule.methods === null || rule.methods.has(facts.method)) &&
    (rule.path === null ||
      (rule.path.test(facts.path) &&
        !(rule.rule.action === "allow" && hasHiddenDotSegments(facts.path))))
  );
}

/**
 * Walks, in rule order, only the rules whose host pattern can match `host`: the exact list, the
 * `*.parent` lists and the scanned (`*`, regex) list, merged by index.
 */
function firstRule(
  policy: CompiledPolicy,
  host: string,
  accept: (rule: CompiledRule) => boolean,
): CompiledRule | undefined {
  const lists: (readonly CompiledRule[])[] = [];
  const exact = policy.exact.get(host);
  if (exact) lists.push(exact);
  if (ipFamily(host) === 0) {
    for (const parent of parentDomains(host)) {
      const list = policy.suffix.get(parent);
      if (list) lists.push(list);
    }
  }
  if (policy.scanned.length > 0) lists.push(policy.scanned);
  const positions = lists.map(() => 0);
  for (;;) {
    let best = -1;
    let bestIndex = Number.POSITIVE_INFINITY;
    lists.forEach((list, i) => {
      const candidate = list[positions[i] as number];
      if (candidate !== undefined && candidate.index < bestIndex) {
        best = i;
        bestIndex = candidate.index;
      }
    });
    if (best === -1) return undefined;
    const rule = (lists[best] as readonly CompiledRule[])[
      positions[best] as number
    ] as CompiledRule;
    positions[best] = (positions[best] as number) + 1;
    if (rule.host.kind === "regex" && !rule.host.regex.test(host)) continue;
    if (accept(rule)) return rule;
  }
}
