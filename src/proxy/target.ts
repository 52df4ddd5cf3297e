import { normalizeHost } from "./policy/host.js";

export interface Authority {
  host: string;
  port: number;
}

/** `host[:port]` or `[v6][:port]`, host normalised; null when malformed or without a needed port. */
export function parseAuthority(text: string, defaultPort: number | null): Authority | null {
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(text);
  if (!match) return null;
  const host = normalizeHost(match[1] as string);
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (host === null || port === null || port < 1 || port > 65535) return null;
  return { host, port };
}

/** `host`, `host:port` or `[v6]:port`, leaving out the scheme's default port. */
export function formatAuthority(host: string, port: number, defaultPort: number): string {
  const name = host.includes(":") ? `[${host}]` : host;
  return port === defaultPort ? name : `${name}:${port}`;
}

/** Path and query of a request target (`/p?q`), the query with its `?`. */
export function splitPathAndQuery(target: string): { path: string; query: string } {
  const mark = target.indexOf("?");
  return mark === -1
    ? { path: target, query: "" }
    : { path: target.slice(0, mark), query: target.slice(mark) };
}

/**
 * An absolute-form `http://` request target, as clients send them to a proxy. No user info, no
 * fragment; an empty path is `/`.
 */
export function parseAbsoluteHttp(
  target: string,
): (Authority & { path: string; query: string }) | null {
  const match = /^http:\/\/([^/?#@]*)([/?][^#]*)?$/i.exec(target);
  if (!match) return null;
  const authority = parseAuthority(match[1] as string, 80);
  if (authority === null) return null;
  const rest = match[2] ?? "/";
  const { path, query } = splitPathAndQuery(rest.startsWith("/") ? rest : `/${rest}`);
  return { ...authority, path, query };
}
