import { STATUS_CODES } from "node:http";

// Header handling for a forwarding proxy (RFC 9110 §7.6.1): hop-by-hop fields stop here.

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The end-to-end fields of a raw header list ([name, value, name, value, …]): hop-by-hop fields,
 * fields the Connection header names, and `drop` (lower-case names) removed; order and
 * repeated fields kept.
 */
export function endToEndHeaders(
  raw: readonly string[],
  drop: ReadonlySet<string> = new Set(),
): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === "connection") {
      for (const token of (raw[i + 1] as string).split(",")) named.add(token.trim().toLowerCase());
    }
  }
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !named.has(lower) && !drop.has(lower))
      kept.push(name, raw[i + 1] as string);
  }
  return kept;
}

/** Sets `name` to `value`, replacing any fields of that name, in a raw header list. */
export function withHeader(raw: readonly string[], name: string, value: string): string[] {
  const lower = name.toLowerCase();
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== lower)
      kept.push(raw[i] as string, raw[i + 1] as string);
  }
  kept.push(name, value);
  return kept;
}

/** A whole HTTP/1.1 response head (and optional body) for a socket no http.Server writes to. */
/**
 * A complete answer on a raw socket that is closed after it. Content-Length is what lets a client that
 * keeps reading (libcurl after a 407 on CONNECT, before it retries with credentials) know where the
 * answer ends.
 */
export function finalResponse(status: number, headers: readonly string[], body: string): string {
  return rawResponse(
    status,
    STATUS_CODES[status] ?? "",
    [...headers, "Content-Length", String(Buffer.byteLength(body)), "Connection", "close"],
    body,
  );
}

export function rawResponse(
  status: number,
  reason: string,
  headers: readonly string[],
  body = "",
): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n${body}`;
}
