import { timingSafeEqual } from "node:crypto";

const USER = "jailed";

/** The Proxy-Authorization value a client of this run sends. */
export function proxyAuthorization(token: string): string {
  return `Basic ${Buffer.from(`${USER}:${token}`).toString("base64")}`;
}

/** A checker for Proxy-Authorization headers that compares the credentials in constant time. */
export function createProxyAuthCheck(token: string): (header: string | undefined) => boolean {
  if (token.length === 0) throw new Error("the proxy token must not be empty");
  const expected = Buffer.from(`${USER}:${token}`);
  return (header) => {
    const match = /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header ?? "");
    const given = Buffer.from(match?.[1] ?? "", "base64");
    // Same-length comparison either way, so the time taken says nothing about the token.
    const sameLength = given.length === expected.length;
    return timingSafeEqual(sameLength ? given : expected, expected) && sameLength;
  };
}
