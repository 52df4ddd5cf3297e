import { randomPicker } from "./random.js";

/**
 * Prefixes vendors put in front of their tokens, which clients and servers check before anything
 * else; a dummy keeps them so an agent that validates its key's shape accepts it. Longest first.
 */
const KNOWN_PREFIXES = [
  "sk-ant-api03-",
  "sk-ant-oat01-",
  "sk-ant-ort01-",
  "sk-ant-admin01-",
  "sk-proj-",
  "sk-svcacct-",
  "sk-admin-",
  "github_pat_",
  "ghp_",
  "gho_",
  "ghu_",
  "ghs_",
  "ghr_",
  "glpat-",
  "xoxb-",
  "xoxp-",
  "AIza",
  "ya29.",
  "sk-",
] as const;

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";

/** The known prefix `token` starts with, or "". */
export function knownPrefix(token: string): string {
  return KNOWN_PREFIXES.find((prefix) => token.startsWith(prefix)) ?? "";
}

/** The letters and digits a token's body draws from: the union of the classes it uses. */
function alphabetOf(body: string): string {
  let alphabet = "";
  if (/[a-z]/.test(body)) alphabet += LOWER;
  if (/[A-Z]/.test(body)) alphabet += UPPER;
  if (/[0-9]/.test(body)) alphabet += DIGITS;
  return alphabet;
}

/**
 * The header and payload of a signed JWT (RFC 7519: three base64url parts, the first a JSON
 * object naming its `alg`), with their dot; "" for anything else. They are only base64: the
 * signature is what makes the token worth anything.
 */
export function jwtClaimsPart(token: string): string {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]+$/.test(part))) return "";
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, "base64url").toString("utf8"));
    if (typeof header?.alg !== "string") return "";
  } catch {
    return "";
  }
  return `${parts[0]}.${parts[1]}.`;
}

/**
 * A fresh dummy with `token`'s shape: its known prefix, its length, punctuation where it has
 * punctuation (hyphen groups), and every letter or digit drawn at random from the classes the
 * token uses. Only the punctuation's positions say anything about the real token. A JWT keeps its
 * header and claims, and gets a random signature: agents read the claims (expiry, account, plan)
 * of the tokens they hold, and no server takes a token whose signature does not verify.
 * `pick(n)` draws an integer in [0, n); tests pass a seeded one.
 */
export function makeDummy(token: string, pick: (n: number) => number = randomPicker()): string {
  const prefix = jwtClaimsPart(token) || knownPrefix(token);
  const body = token.slice(prefix.length);
  const alphabet = alphabetOf(body);
  for (;;) {
    let dummy = prefix;
    for (const char of body) {
      dummy += /[A-Za-z0-9]/.test(char) ? (alphabet[pick(alphabet.length)] as string) : char;
    }
    // Only a token of a few characters could come out the same; draw again.
    if (dummy !== token || alphabet.length === 0) return dummy;
  }
}
