import { parse, TomlError } from "smol-toml";
import * as v from "valibot";
import { type Rule, RuleSchema } from "../../spec/policy.js";
import { compilePolicy, PolicyError } from "./compile.js";

/**
 * Policy files, in two dialects.
 *
 * Ours: `[[rules]]` tables with exactly the fields of a Rule (action, host, path, methods, port,
 * credential, tls), read as the Policy section of DESIGN.md says; any other key is an error.
 *
 * nix-jail's: `[[rules]]` with `action`, optional `credential`, and the patterns in a
 * `[rules.pattern]` sub-table (`host`, optional `path`), or flat `host`/`path` in the rule when the
 * file says `format = "nix-jail"`. nix-jail matches its patterns as unanchored regexes
 * (`github\.com` also matches `evilgithub.com.attacker.test`); here each is read anchored to the
 * whole host or path: host `H` becomes the rule host `/H/` and path `P` the rule path `/P/`, which
 * the policy compiles to `^(?:H)$` (case-insensitive) and `^(?:P)$`. So `api\.github\.com` means
 * exactly that host, and `/repos/.*` every path below /repos/. A `^` or `$` already in a pattern
 * is harmless. nix-jail's `cidr` patterns have no equivalent (the proxy refuses private addresses
 * unless a rule names the address) and are an error, as is anything else we cannot honour.
 *
 * Which dialect: a top-level `format` key (`"jailed"` or `"nix-jail"`) decides; without it, a file
 * is nix-jail's when any rule has a `pattern` table, and ours otherwise. A nix-jail host pattern
 * such as `github\.com` read as ours is not a host name, so a missing `format` fails loudly rather
 * than changing meaning.
 */

/** A policy file that cannot be used: the message is `<file>:<line>: <reason>`. */
export class PolicyFileError extends Error {
  override readonly name = "PolicyFileError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

const FORMATS = ["jailed", "nix-jail"] as const;
type Format = (typeof FORMATS)[number];
const RULE_KEYS = Object.keys(RuleSchema.entries);
const NIX_JAIL_RULE_KEYS = ["action", "credential", "pattern", "host", "path"];
const NIX_JAIL_PATTERN_KEYS = ["host", "path"];

type Table = Record<string, unknown>;

/** Reads a policy file's text into rules, checked by the policy compiler; throws PolicyFileError. */
export function parsePolicyFile(text: string, fileName: string): Rule[] {
  const lines = new SourceLines(text);
  const fail = (line: number, reason: string): never => {
    throw new PolicyFileError(fileName, line, reason);
  };
  let document: Table;
  try {
    document = parse(text) as Table;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = (error.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    return fail(error.line, `malformed TOML: ${reason}`);
  }
  for (const key of Object.keys(document)) {
    if (key !== "rules" && key !== "format") {
      fail(lines.topLevelKey(key), `unknown key '${key}' (a policy file has format and [[rules]])`);
    }
  }
  const format = document.format;
  if (format !== undefined && !FORMATS.includes(format as Format)) {
    fail(lines.topLevelKey("format"), `format must be "jailed" or "nix-jail"`);
  }
  const tables = document.rules;
  if (!Array.isArray(tables) || tables.length === 0 || !tables.every(isTable)) {
    return fail(
      tables === undefined ? 1 : lines.topLevelKey("rules"),
      'the rules go in [[rules]] tables, at least one (no rules would deny everything: use network = "none")',
    );
  }
  const dialect: Format =
    (format as Format | undefined) ?? (tables.some((t) => "pattern" in t) ? "nix-jail" : "jailed");
  const rules = tables.map((table, index) =>
    dialect === "jailed"
      ? ourRule(table, (key, reason) => fail(lines.ruleKey(index, key), reason))
      : nixJailRule(table, (key, reason) => fail(lines.ruleKey(index, key), reason)),
  );
  try {
    compilePolicy(rules);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    // The compiler names the field first (`host '…': …`, `path '…': …`): point at its line.
    const reason = error.message.replace(/^policy rule \d+: /, "");
    const key = /^(host|path) '/.exec(reason)?.[1] ?? null;
    fail(lines.ruleKey(error.index, key), `rule ${error.index + 1}: ${reason}`);
  }
  return rules;
}

type Fail = (key: string | null, reason: string) => never;

function ourRule(table: Table, fail: Fail): Rule {
  for (const key of Object.keys(table)) {
    if (!RULE_KEYS.includes(key)) {
      fail(key, `unknown key '${key}' in a rule (a rule has ${RULE_KEYS.join(", ")})`);
    }
  }
  const result = v.safeParse(RuleSchema, table);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue.path?.[0]?.key;
  if (typeof key !== "string") return fail(null, issue.message);
  return fail(key, `${key}: ${describeIssue(key, issue.message)}`);
}

function describeIssue(key: string, message: string): string {
  if (key === "action") return `must be "allow" or "deny"`;
  if (key === "tls") return `must be "inspect" or "passthrough"`;
  return message;
}

function nixJailRule(table: Table, fail: Fail): Rule {
  for (const key of Object.keys(table)) {
    if (!NIX_JAIL_RULE_KEYS.includes(key)) {
      const hint =
        key === "methods" || key === "port" ? " (write the file in our format for it)" : "";
      fail(key, `unknown key '${key}' in a nix-jail rule${hint}`);
    }
  }
  const pattern = table.pattern;
  if (pattern !== undefined && ("host" in table || "path" in table)) {
    fail("pattern", "give host and path either in [rules.pattern] or in the rule, not both");
  }
  const where: Table = pattern === undefined ? table : isTable(pattern) ? pattern : {};
  if (pattern !== undefined) {
    if (!isTable(pattern)) fail("pattern", "pattern must be a table ([rules.pattern])");
    if ("cidr" in where) {
      fail("cidr", "cidr patterns are not supported: name the host, or its address as host");
    }
    for (const key of Object.keys(where)) {
      if (!NIX_JAIL_PATTERN_KEYS.includes(key)) fail(key, `unknown key '${key}' in a pattern`);
    }
  }
  const action = table.action;
  if (action !== "allow" && action !== "deny") fail("action", `action must be "allow" or "deny"`);
  const host = stringField(where, "host", fail);
  if (host === undefined) return fail(null, "a nix-jail rule needs a host pattern");
  const path = stringField(where, "path", fail);
  const credential = stringField(table, "credential", fail);
  return {
    action: action as Rule["action"],
    host: `/${host}/`,
    ...(path === undefined ? {} : { path: `/${path}/` }),
    ...(credential === undefined ? {} : { credential }),
  };
}

function stringField(table: Table, key: string, fail: Fail): string | undefined {
  const value = table[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "")
    return fail(key, `${key} must be a non-empty string`);
  return value;
}

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Finds source lines for values smol-toml hands back without positions: the N-th `[[rules]]`
 * header, and a key's line within that rule (its sub-tables included). Falls back to the rule's
 * header, then to line 1 (inline-table spellings of rules).
 */
class SourceLines {
  private readonly lines: string[];
  private readonly ruleHeaders: number[];

  constructor(text: string) {
    this.lines = text.split(/\r?\n/);
    this.ruleHeaders = [];
    this.lines.forEach((line, i) => {
      if (/^\s*\[\[\s*rules\s*\]\]/.test(line)) this.ruleHeaders.push(i);
    });
  }

  topLevelKey(key: string): number {
    const end = this.ruleHeaders[0] ?? this.lines.length;
    return this.find(0, end, key) ?? 1;
  }

  ruleKey(index: number, key: string | null): number {
    const start = this.ruleHeaders[index];
    if (start === undefined) return this.topLevelKey("rules");
    if (key === null) return start + 1;
    const end = this.ruleHeaders[index + 1] ?? this.lines.length;
    return this.find(start + 1, end, key) ?? start + 1;
  }

  private find(start: number, end: number, key: string): number | undefined {
    const assignment = new RegExp(`^\\s*(?:${key}|"${key}"|'${key}')\\s*=`);
    const header = new RegExp(`^\\s*\\[\\s*rules\\.${key}\\s*\\]`);
    for (let i = start; i < end; i++) {
      const line = this.lines[i] ?? "";
      if (assignment.test(line) || header.test(line)) return i + 1;
    }
    return undefined;
  }
}
