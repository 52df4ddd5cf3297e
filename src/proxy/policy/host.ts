import { domainToASCII } from "node:url";

/** How a rule names hosts. `suffix` holds the parent domain of `*.domain` (subdomains only). */
export type HostPattern =
  | { kind: "any" }
  | { kind: "exact"; host: string }
  | { kind: "suffix"; domain: string }
  | { kind: "regex"; regex: RegExp };

const HOSTNAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
// domainToASCII parses a whole URL host: it would read `a.test/x` as `a.test` and `a%2eb` as
// `a.b`. Only letters, digits, `-`, `_`, `.` and non-ASCII (IDN) go in.
const HOST_CHARACTERS = /^(?:[A-Za-z0-9._-]|\P{ASCII})+$/u;

/**
 * The one spelling of a host that policy, certificates and dialing agree on: lower case, one
 * trailing dot dropped, IDN as punycode, IPv4 in dotted-quad form (WHATWG host parsing turns
 * `0x7f.1` into `127.0.0.1`), IPv6 compressed without brackets. Null for anything else.
 */
export function normalizeHost(raw: string): string | null {
  const unbracketed = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  if (unbracketed.includes(":")) {
    if (!/^[0-9A-Fa-f:.]+$/.test(unbracketed)) return null;
    const ipv6 = domainToASCII(`[${unbracketed}]`);
    return ipv6 === "" ? null : ipv6.slice(1, -1);
  }
  const undotted = unbracketed.endsWith(".") ? unbracketed.slice(0, -1) : unbracketed;
  if (!HOST_CHARACTERS.test(undotted)) return null;
  const ascii = domainToASCII(undotted);
  return HOSTNAME.test(ascii) ? ascii : null;
}

/** Reads a rule's `host`; throws an Error whose message says what is wrong with it. */
export function parseHostPattern(text: string): HostPattern {
  if (text === "*") return { kind: "any" };
  if (text.startsWith("/")) {
    if (text.length < 3 || !text.endsWith("/")) throw new Error(`a regex host is written /…/`);
    // Anchored to the whole host; hosts are compared in their normalised (lower-case) form.
    return { kind: "regex", regex: new RegExp(`^(?:${text.slice(1, -1)})$`, "i") };
  }
  if (text.startsWith("*.")) {
    const domain = normalizeHost(text.slice(2));
    if (domain === null) throw new Error(`'${text.slice(2)}' is not a host name`);
    return { kind: "suffix", domain };
  }
  if (text.includes("*")) {
    throw new Error("'*' is only allowed alone or as a leading '*.' label; use /regex/ otherwise");
  }
  const host = normalizeHost(text);
  if (host === null) {
    const hint = /:\d+$/.test(text) ? " (give the port in the rule's `port`)" : "";
    throw new Error(`'${text}' is not a host name or IP address${hint}`);
  }
  return { kind: "exact", host };
}

/** The parent domains a `*.domain` rule could be filed under for this host, nearest first. */
export function parentDomains(host: string): string[] {
  const parents: string[] = [];
  for (let dot = host.indexOf("."); dot !== -1; dot = host.indexOf(".", dot + 1)) {
    parents.push(host.slice(dot + 1));
  }
  return parents;
}
