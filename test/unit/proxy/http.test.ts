import { describe, expect, test } from "vitest";
import { createProxyAuthCheck, proxyAuthorization } from "../../../src/proxy/auth.js";
import { endToEndHeaders, rawResponse, withHeader } from "../../../src/proxy/headers.js";
import { formatAuthority, parseAbsoluteHttp, parseAuthority } from "../../../src/proxy/target.js";

describe("proxy authentication", () => {
  const check = createProxyAuthCheck("s3cret");
  test("accepts exactly Basic base64(jailed:token)", () => {
    expect(proxyAuthorization("s3cret")).toBe(
      `Basic ${Buffer.from("jailed:s3cret").toString("base64")}`,
    );
    expect(check(proxyAuthorization("s3cret"))).toBe(true);
    expect(check(`basic ${Buffer.from("jailed:s3cret").toString("base64")}`)).toBe(true);
  });
  test.each([
    undefined,
    "",
    proxyAuthorization("s3cre"),
    proxyAuthorization("s3cret!"),
    `Basic ${Buffer.from("other:s3cret").toString("base64")}`,
    `Bearer ${Buffer.from("jailed:s3cret").toString("base64")}`,
    "Basic !!!",
  ])("refuses %j", (header) => expect(check(header)).toBe(false));
  test("an empty token is refused at start", () =>
    expect(() => createProxyAuthCheck("")).toThrow());
});

describe("headers", () => {
  test("hop-by-hop fields and those Connection names are dropped; the rest keep order and repeats", () => {
    const raw = [
      "Host",
      "a.test",
      "Connection",
      "keep-alive, X-Hop",
      "Proxy-Authorization",
      "Basic xyz",
      "Proxy-Connection",
      "keep-alive",
      "X-Hop",
      "1",
      "Set-Cookie",
      "a=1",
      "Transfer-Encoding",
      "chunked",
      "Set-Cookie",
      "b=2",
      "TE",
      "trailers",
      "Upgrade",
      "websocket",
      "Expect",
      "100-continue",
    ];
    expect(endToEndHeaders(raw, new Set(["expect"]))).toEqual([
      "Host",
      "a.test",
      "Set-Cookie",
      "a=1",
      "Set-Cookie",
      "b=2",
    ]);
  });
  test("withHeader replaces every field of that name", () => {
    expect(withHeader(["host", "evil.test", "A", "1", "HOST", "x"], "Host", "a.test")).toEqual([
      "A",
      "1",
      "Host",
      "a.test",
    ]);
  });
  test("rawResponse", () => {
    expect(rawResponse(403, "Forbidden", ["X-A", "1"], "no\n")).toBe(
      "HTTP/1.1 403 Forbidden\r\nX-A: 1\r\n\r\nno\n",
    );
  });
});

describe("request targets", () => {
  test("authorities", () => {
    expect(parseAuthority("API.test:443", null)).toEqual({ host: "api.test", port: 443 });
    expect(parseAuthority("[::1]:8443", null)).toEqual({ host: "::1", port: 8443 });
    expect(parseAuthority("a.test", 80)).toEqual({ host: "a.test", port: 80 });
    for (const bad of [
      "a.test",
      "a.test:0",
      "a.test:65536",
      "a.test:x",
      "a:b:c",
      "::1:443",
      "a.test/x:443",
      "u@a.test:443",
    ]) {
      expect(parseAuthority(bad, null)).toBeNull();
    }
    expect(formatAuthority("::1", 8443, 443)).toBe("[::1]:8443");
    expect(formatAuthority("a.test", 443, 443)).toBe("a.test");
  });
  test("absolute-form http URLs", () => {
    expect(parseAbsoluteHttp("http://A.test:8080/p/q?x=1")).toEqual({
      host: "a.test",
      port: 8080,
      path: "/p/q",
      query: "?x=1",
    });
    expect(parseAbsoluteHttp("http://a.test")).toEqual({
      host: "a.test",
      port: 80,
      path: "/",
      query: "",
    });
    expect(parseAbsoluteHttp("http://a.test?x")).toEqual({
      host: "a.test",
      port: 80,
      path: "/",
      query: "?x",
    });
    for (const bad of [
      "/relative",
      "https://a.test/",
      "http://user@a.test/",
      "http://a.test/#frag",
      "ftp://a.test/",
    ]) {
      expect(parseAbsoluteHttp(bad)).toBeNull();
    }
  });
});
