import type { Rule } from "../../spec/policy.js";
import { ipFamily } from "../address.js";
import { type HostPattern, parseHostPattern } from "./host.js";
import { compilePathPattern } from "./path.js";

/** Ports a rule without `port` applies to: other ports are denied unless a rule names them. */
export const DEFAULT_PORTS: ReadonlySet<number> = new Set([80, 443]);

export interface CompiledRule {
  index: number;
  rule: Rule;
  host: HostPattern;
  ports: ReadonlySet<number>;
  methods: ReadonlySet<string> | null;
  path: RegExp | null;
}

/**
 * Rules filed for lookup: exact hosts in a Map, `*.domain` rules in a Map by domain, so a
 * decision costs a few Map lookups however many such rules there are; only `*` and regex rules
 * are scanned. Every list is in rule order.
 */
export interface CompiledPolicy {
  rules: readonly CompiledRule[];
  exact: ReadonlyMap<string, readonly CompiledRule[]>;
  suffix: ReadonlyMap<string, readonly CompiledRule[]>;
  scanned: readonly CompiledRule[];
  /**
   * IP addresses allow rules name, with the ports those rules cover: the only loopback, private,
   * … addresses the proxy dials, and only on those ports.
   */
  namedAddresses: ReadonlyMap<string, ReadonlySet<number>>;
}

export class PolicyError extends Error {
  constructor(
    readonly index: number,
    reason: string,
  ) {
    super(`policy rule ${index}: ${reason}`);
    this.name = "PolicyError";
  }
}

export function compilePolicy(rules: readonly Rule[]): CompiledPolicy {
  const compiled = rules.map(compileRule);
  const exact = new Map<string, CompiledRule[]>();
  const suffix = new Map<string, CompiledRule[]>();
  const scanned: CompiledRule[] = [];
  const namedAddresses = new Map<string, Set<number>>();
  for (const rule of compiled) {
    const pattern = rule.host;
    if (pattern.kind === "exact") {
      fileUnder(exact, pattern.host, rule);
      if (rule.rule.action === "allow" && ipFamily(pattern.host) !== 0) {
        const ports = namedAddresses.get(pattern.host) ?? new Set<number>();
        for (const port of rule.ports) ports.add(port);
        namedAddresses.set(pattern.host, ports);
      }
    } else if (pattern.kind === "suffix") {
      fileUnder(suffix, pattern.domain, rule);
    } else {
      scanned.push(rule);
    }
  }
  return { rules: compiled, exact, suffix, scanned, namedAddresses };
}

function fileUnder(map: Map<string, CompiledRule[]>, key: string, rule: CompiledRule): void {
  const list = map.get(key);
  if (list) list.push(rule);
  else map.set(key, [rule]);
}

function compileRule(rule: Rule, index: number): CompiledRule {
  const fail = (reason: string): never => {
    throw new PolicyError(index, reason);
  };
  const attempt = <T>(what: string, compile: () => T): T => {
    try {
      return compile();
    } catch (error) {
      return fail(`${what}: ${(error as Error).message}`);
    }
  };
  const host = attempt(`host '${rule.host}'`, () => parseHostPattern(rule.host));
  const path =
    rule.path === undefined
      ? null
      : attempt(`path '${rule.path}'`, () => compilePathPattern(rule.path as string));
  if (rule.tls === "passthrough") {
    if (rule.action !== "allow") fail("tls = passthrough only makes sense on an allow rule");
    // A tunnel is never decrypted, so nothing below the host can be checked.
    if (path !== null || rule.methods !== undefined || rule.credential !== undefined) {
      fail("tls = passthrough is host-level only: it cannot have path, methods or credential");
    }
  }
  return {
    index,
    rule,
    host,
    ports: rule.port === undefined ? DEFAULT_PORTS : new Set([rule.port]),
    methods: rule.methods === undefined ? null : new Set(rule.methods),
    path,
  };
}
