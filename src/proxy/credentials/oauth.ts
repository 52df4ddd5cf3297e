import { atPointer } from "./source.js";

/** Where an OAuth login lives in its credentials file. */
export interface LoginPointers {
  accessPointer: string;
  refreshPointer: string;
  /** Milliseconds since the epoch; null when the file keeps no expiry. */
  expiresAtPointer: string | null;
}

/** Whether a request to `host` with path (and query) `path` goes to one of `tokenUrls`. */
export function isTokenEndpoint(tokenUrls: readonly string[], host: string, path: string): boolean {
  const queryAt = path.indexOf("?");
  const url = `https://${host.toLowerCase().replace(/\.$/, "")}${queryAt === -1 ? path : path.slice(0, queryAt)}`;
  return tokenUrls.some((tokenUrl) => {
    const { hostname, pathname } = new URL(tokenUrl);
    return url === `https://${hostname}${pathname}`;
  });
}

function mediaType(contentType: string | undefined): "form" | "json" | null {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") return "form";
  if (type === "application/json" || type?.endsWith("+json")) return "json";
  return null;
}

/**
 * Which of `dummies` a token request's body carries: as a JSON string, or as the whole value of a
 * form field (as RFC 6749 §6 sends it); null when none, or when the body is neither.
 */
export function refreshDummyIn(
  body: string,
  contentType: string | undefined,
  dummies: Iterable<string>,
): string | null {
  const type = mediaType(contentType);
  if (type === null) return null;
  const values = type === "form" ? new Set(new URLSearchParams(body).values()) : null;
  for (const dummy of dummies) {
    if (values === null ? body.includes(JSON.stringify(dummy)) : values.has(dummy)) return dummy;
  }
  return null;
}

/**
 * The body with `dummy` (found by refreshDummyIn) swapped for `real`. Token requests are small and
 * sent whole, so the body is rewritten, not streamed; the real value may differ in length.
 */
export function swapRefreshToken(
  body: string,
  contentType: string | undefined,
  dummy: string,
  real: string,
): string {
  if (mediaType(contentType) === "json")
    return body.replaceAll(JSON.stringify(dummy), JSON.stringify(real));
  const form = new URLSearchParams(body);
  for (const [key, value] of [...form]) {
    if (value === dummy) form.set(key, real);
  }
  return form.toString();
}

/** The tokens of a token endpoint's successful answer (RFC 6749 §5.1). */
export interface TokenResponse {
  accessToken: string;
  /** Absent when the server keeps the refresh token as it was. */
  refreshToken: string | null;
  /** Any other `…token` string beside them, such as an OpenID Connect `id_token`. */
  otherTokens: string[];
  /** Lifetime of the access token in seconds, when given. */
  expiresIn: number | null;
}

/** The tokens in a token endpoint's JSON answer, or null when it is not one. */
export function tokenResponseOf(text: string): TokenResponse | null {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return null;
  }
  if (document === null || typeof document !== "object") return null;
  const fields = document as Record<string, unknown>;
  const { access_token, refresh_token, expires_in } = fields;
  if (typeof access_token !== "string" || access_token === "") return null;
  return {
    accessToken: access_token,
    refreshToken: typeof refresh_token === "string" && refresh_token !== "" ? refresh_token : null,
    otherTokens: Object.entries(fields).flatMap(([key, value]) =>
      /token$/i.test(key) &&
      key !== "access_token" &&
      key !== "refresh_token" &&
      typeof value === "string" &&
      value !== ""
        ? [value]
        : [],
    ),
    expiresIn: typeof expires_in === "number" && Number.isFinite(expires_in) ? expires_in : null,
  };
}

/** The values a login file holds at `pointers`; a missing or non-string token reads as null. */
export function loginTokensOf(
  text: string,
  pointers: LoginPointers,
): { access: string | null; refresh: string | null } {
  const document = JSON.parse(text) as unknown;
  const stringAt = (pointer: string) => {
    const value = atPointer(document, pointer);
    return typeof value === "string" && value !== "" ? value : null;
  };
  return { access: stringAt(pointers.accessPointer), refresh: stringAt(pointers.refreshPointer) };
}

/** Sets the value at a JSON pointer whose parent exists; throws (without values) when it does not. */
function setAtPointer(document: unknown, pointer: string, value: unknown): void {
  const at = pointer.lastIndexOf("/");
  const parent = atPointer(document, pointer.slice(0, at));
  if (parent === null || typeof parent !== "object" || Array.isArray(parent))
    throw new Error(`${pointer}: no object to hold it in the file`);
  const key = pointer
    .slice(at + 1)
    .replace(/~1/g, "/")
    .replace(/~0/g, "~");
  (parent as Record<string, unknown>)[key] = value;
}

/**
 * The login file's text with a refresh's tokens saved in it: the new access token, the new
 * refresh token when the server rotated it, and the expiry when the file keeps one. Everything
 * else stays; the file keeps its indentation (none, or that of its first key) and final newline.
 */
export function refreshedLoginFile(
  text: string,
  pointers: LoginPointers,
  tokens: TokenResponse,
  now: number,
): string {
  const document = JSON.parse(text) as unknown;
  setAtPointer(document, pointers.accessPointer, tokens.accessToken);
  if (tokens.refreshToken !== null)
    setAtPointer(document, pointers.refreshPointer, tokens.refreshToken);
  if (pointers.expiresAtPointer !== null && tokens.expiresIn !== null)
    setAtPointer(document, pointers.expiresAtPointer, now + tokens.expiresIn * 1000);
  const indent = /^\{\s*?\n([ \t]+)"/.exec(text)?.[1] ?? "";
  return JSON.stringify(document, null, indent) + (text.endsWith("\n") ? "\n" : "");
}
