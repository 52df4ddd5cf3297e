import type { LoginPointers } from "./oauth.js";

/** A credential the proxy holds for one run: its real value and the dummy the jail has instead. */
export interface ResolvedCredential {
  name: string;
  /** Hosts the real value may go to: exact names (case-insensitive) or `*.suffix` for subdomains. */
  hosts: readonly string[];
  real: string;
  dummy: string;
  /** An OAuth login: the proxy refreshes it for the jail (see OAuthSchema). */
  oauth?: ResolvedOAuth;
}

export interface ResolvedOAuth extends LoginPointers {
  /** The host's credentials file, absolute: the current refresh token is read from it, new tokens saved to it. */
  file: string;
  tokenUrls: readonly string[];
  /** The refresh token as the run found it, and its dummy in the jail's copy of the file. */
  refresh: { real: string; dummy: string };
}

export function isCredentialHost(credential: ResolvedCredential, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return credential.hosts.some((pattern) => {
    const lower = pattern.toLowerCase();
    return lower.startsWith("*.") ? name.endsWith(lower.slice(1)) : name === lower;
  });
}

/** A request's header list and target after credentials were swapped in. */
export interface Injected {
  headers: string[];
  /** Path and query. */
  path: string;
  /** Credentials whose real value was put in place of their dummy. */
  injected: string[];
  /** Credentials whose dummy was found in a request to a host they do not belong to (sent as is). */
  dummySentTo: string[];
}

/**
 * Replaces each credential's dummy by its real value in the header values (inside Basic credentials
 * too) and the query of a request to one of that credential's hosts, and only where the dummy
 * appears; the body and the path are left alone. A dummy on its way anywhere else stays the dummy
 * and is reported.
 */
export function injectCredentials(
  credentials: readonly ResolvedCredential[],
  host: string,
  headers: readonly string[],
  path: string,
): Injected {
  const result: Injected = { headers: [...headers], path, injected: [], dummySentTo: [] };
  const queryAt = path.indexOf("?");
  for (const credential of credentials) {
    const inHeaders = result.headers.some(
      (value, i) => i % 2 === 1 && headerHolds(value, credential.dummy),
    );
    const inQuery = queryAt !== -1 && result.path.slice(queryAt).includes(credential.dummy);
    if (!inHeaders && !inQuery) continue;
    if (!isCredentialHost(credential, host)) {
      addOnce(result.dummySentTo, credential.name);
      continue;
    }
    addOnce(result.injected, credential.name);
    for (let i = 1; i < result.headers.length; i += 2) {
      result.headers[i] = replaceInHeader(
        result.headers[i] as string,
        credential.dummy,
        credential.real,
      );
    }
    if (inQuery) {
      result.path =
        result.path.slice(0, queryAt) +
        result.path.slice(queryAt).replaceAll(credential.dummy, credential.real);
    }
  }
  return result;
}

const BASIC = /^(basic\s+)([A-Za-z0-9+/]+={0,2})$/i;

/** The user:password of a Basic credentials header value, or null. */
function basicCredentials(value: string): { scheme: string; pair: string } | null {
  const match = BASIC.exec(value);
  if (match === null) return null;
  return {
    scheme: match[1] as string,
    pair: Buffer.from(match[2] as string, "base64").toString("latin1"),
  };
}

/** Whether a header value holds `text`, as it is or inside Basic credentials (git sends a token as their password). */
function headerHolds(value: string, text: string): boolean {
  return value.includes(text) || (basicCredentials(value)?.pair.includes(text) ?? false);
}

/** `value` with `edit` applied to the user:password of Basic credentials (re-encoded); others as they are. */
export function editBasic(value: string, edit: (pair: string) => string): string {
  const basic = basicCredentials(value);
  if (basic === null) return value;
  const edited = edit(basic.pair);
  if (edited === basic.pair) return value;
  return basic.scheme + Buffer.from(edited, "latin1").toString("base64");
}

/** A header value with `text` replaced by `by`, inside Basic credentials too. */
function replaceInHeader(value: string, text: string, by: string): string {
  return editBasic(value, (pair) => pair.replaceAll(text, by)).replaceAll(text, by);
}

/** A refreshed login has several dummies under one name: the audit log names it once. */
function addOnce(names: string[], name: string): void {
  if (!names.includes(name)) names.push(name);
}
