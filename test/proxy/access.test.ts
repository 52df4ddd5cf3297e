import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Resolve } from "../../src/proxy/index.js";
import {
  AUTH,
  connectRaw,
  reply,
  startHttpsUpstream,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
  tunnelAgent,
  type Upstream,
  viaProxy,
  waitForText,
} from "./helpers.js";

// Several times what a passthrough tunnel reads at once, and not a repeating pattern.
const BIG = randomBytes(3 * 1024 * 1024 + 123);

let plain: Upstream;
let secure: Upstream;
let proxy: TestProxy;

// Names that resolve to addresses the proxy must not dial; a test stands in for DNS.
const lookup: Resolve = async (host) => {
  const answers: Record<string, string> = {
    "loopback.test": "127.0.0.1",
    "metadata.test": "169.254.169.254",
    "mapped-v6.test": "::ffff:127.0.0.1",
  };
  const address = answers[host];
  if (address === undefined)
    throw Object.assign(new Error(`no such host ${host}`), { code: "ENOTFOUND" });
  return [{ address, family: address.includes(":") ? 6 : 4 }];
};

beforeAll(async () => {
  plain = await startHttpUpstream((req, res) =>
    res.end(`plain ${req.url} host=${req.headers.host}`),
  );
  plain.server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
    );
    socket.pipe(socket);
  });
  secure = await startHttpsUpstream((req, res) =>
    res.end(req.url === "/big" ? BIG : `secure ${req.url}`),
  );
  proxy = await startTestProxy(
    [
      { action: "allow", host: "allowed.test" },
      { action: "allow", host: "*.wild.test" },
      { action: "allow", host: "/api[0-9]+\\.regex\\.test/" },
      { action: "allow", host: "pinned.test", tls: "passthrough" },
      { action: "allow", host: "loopback.test" },
      { action: "allow", host: "loopback.test", port: plain.port },
      { action: "allow", host: "metadata.test" },
      { action: "allow", host: "mapped-v6.test" },
      { action: "allow", host: "127.0.0.1", port: plain.port },
      { action: "allow", host: "/10\\..*/", port: 80 },
      { action: "deny", host: "blocked.test" },
    ],
    {
      lookup,
      upstreams: {
        "allowed.test": { address: "127.0.0.1", port: plain.port },
        "a.wild.test": { address: "127.0.0.1", port: plain.port },
        "wild.test": { address: "127.0.0.1", port: plain.port },
        "api7.regex.test": { address: "127.0.0.1", port: plain.port },
        "pinned.test": { address: "127.0.0.1", port: secure.port },
      },
      extraUpstreamCaPems: [secure.caPem],
    },
  );
});

afterAll(async () => {
  await proxy.finish();
  await plain.close();
  await secure.close();
});

const get = (url: string, options: Parameters<typeof viaProxy>[2] = {}) =>
  reply(viaProxy(proxy.socketPath, url, options));

describe("listening", () => {
  test("the socket is mode 0600", async () => {
    expect((await stat(proxy.socketPath)).mode & 0o777).toBe(0o600);
  });
});

describe("proxy authentication", () => {
  test("no token: 407 and nothing is reached", async () => {
    const res = await get("http://allowed.test/", { auth: null });
    expect(res.status).toBe(407);
    expect(res.headers["proxy-authenticate"]).toBe('Basic realm="jailed"');
    expect(res.body).not.toContain("plain");
  });

  test("a wrong token: 407", async () => {
    const wrong = `Basic ${Buffer.from("jailed:nope").toString("base64")}`;
    expect((await get("http://allowed.test/", { auth: wrong })).status).toBe(407);
  });

  test("CONNECT without the token: 407", async () => {
    const result = await connectRaw(proxy.socketPath, "allowed.test:443", null);
    expect("refusal" in result && result.refusal).toMatch(
      /^HTTP\/1.1 407 .*\r\nProxy-Authenticate: Basic realm="jailed"/s,
    );
  });

  test("the token is not forwarded upstream", async () => {
    const upstreamSaw: string[] = [];
    plain.server.once("request", (req) =>
      upstreamSaw.push(String(req.headers["proxy-authorization"])),
    );
    await get("http://allowed.test/x");
    expect(upstreamSaw).toEqual(["undefined"]);
  });
});

describe("plain HTTP", () => {
  test("an allowed host is reached, with Host set from the request target", async () => {
    const res = await get("http://allowed.test/a/../b?q=1", { headers: { host: "evil.test" } });
    expect(res).toMatchObject({ status: 200, body: "plain /b?q=1 host=allowed.test" });
  });

  test("a request that is not absolute-form is refused", async () => {
    const res = await reply(
      http.request({
        socketPath: proxy.socketPath,
        path: "/",
        headers: { "proxy-authorization": AUTH },
      }),
    );
    expect(res.status).toBe(400);
  });
});

describe("plain HTTP inside a CONNECT tunnel", () => {
  test("CONNECT to port 80 carries plain HTTP, each request decided", async () => {
    const result = await connectRaw(proxy.socketPath, "allowed.test:80");
    if (!("socket" in result)) throw new Error(result.refusal);
    // Written, not ended: Node's HTTP server aborts a request whose client half-closes.
    result.socket.write(
      "GET /a/../tunneled HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n",
    );
    let text = "";
    for await (const chunk of result.socket) text += chunk;
    expect(text).toMatch(/^HTTP\/1.1 200 OK.*plain \/tunneled host=allowed.test$/s);
  });
});

describe("WebSocket over plain HTTP", () => {
  test("an absolute-form Upgrade request is spliced through", async () => {
    const req = viaProxy(proxy.socketPath, "http://allowed.test/ws", {
      headers: { connection: "Upgrade", upgrade: "echo" },
    });
    req.end();
    const [res, socket] = (await once(req, "upgrade")) as [http.IncomingMessage, Duplex];
    expect(res.statusCode).toBe(101);
    socket.write("ping");
    await waitForText(socket, (text) => text === "ping");
    socket.destroy();
  });

  test("without the token it is refused", async () => {
    const req = viaProxy(proxy.socketPath, "http://allowed.test/ws", {
      auth: null,
      headers: { connection: "Upgrade", upgrade: "echo" },
    });
    expect((await reply(req)).status).toBe(407);
  });
});

describe("denials", () => {
  test("a host no rule names: 403 with the reason, the rule and how to allow it", async () => {
    const res = await get("http://api.example.com/v1");
    expect(res.status).toBe(403);
    expect(res.headers["x-jailed-denied"]).toBe("default-deny");
    expect(res.body).toContain("jailed: denied GET http://api.example.com/v1");
    expect(res.body).toContain("no rule allows api.example.com on port 80 (default deny)");
    expect(res.body).toContain("--allow-host api.example.com");
    expect(res.body).toContain('network.allow = [ "api.example.com" ];');
    expect(proxy.denials.at(-1)).toEqual({
      host: "api.example.com",
      message: expect.stringContaining("--allow-host api.example.com"),
    });
  });

  test("a deny rule is named with its index and text", async () => {
    const res = await get("http://blocked.test/");
    expect(res.headers["x-jailed-denied"]).toBe("deny-rule");
    expect(res.body).toContain("rule 10 denies it: deny host=blocked.test");
  });

  test("CONNECT to a denied host: 403 before any TLS", async () => {
    const result = await connectRaw(proxy.socketPath, "evil.test:443");
    expect("refusal" in result && result.refusal).toMatch(
      /^HTTP\/1.1 403 Forbidden\r\n.*X-Jailed-Denied: default-deny/s,
    );
    expect("refusal" in result && result.refusal).toContain("--allow-host evil.test");
  });

  test.each(["allowed.test.evil.test", "evilallowed.test", "sub.allowed.test"])(
    "%s does not match allowed.test",
    async (host) => {
      expect((await get(`http://${host}/`)).status).toBe(403);
      expect("refusal" in (await connectRaw(proxy.socketPath, `${host}:443`))).toBe(true);
    },
  );

  test("*.wild.test covers subdomains, not the apex", async () => {
    expect((await get("http://a.wild.test/")).status).toBe(200);
    expect((await get("http://wild.test/")).status).toBe(403);
  });

  test("a regex host is anchored", async () => {
    expect((await get("http://api7.regex.test/")).status).toBe(200);
    expect((await get("http://api7.regex.test.evil.test/")).status).toBe(403);
    expect((await get("http://evil-api7.regex.test/")).status).toBe(403);
  });

  test("a rule without port does not open other ports", async () => {
    const res = await get("http://allowed.test:8080/");
    expect(res.status).toBe(403);
    expect(res.body).toContain("--allow-host allowed.test:8080");
  });
});

describe("addresses the proxy does not dial", () => {
  test.each([
    ["loopback.test", "127.0.0.1 (loopback)"],
    ["metadata.test", "169.254.169.254 (metadata)"],
    ["mapped-v6.test", "::ffff:127.0.0.1 (loopback)"],
  ])("%s is allowed by policy but resolves to %s: refused", async (host, answer) => {
    const before = plain.connections();
    const res = await get(`http://${host}:80/`);
    expect(res.status).toBe(403);
    expect(res.headers["x-jailed-denied"]).toBe("refused-address");
    expect(res.body).toContain(`resolves to ${answer}`);
    expect(plain.connections()).toBe(before);
  });

  test("an IP literal matched by a regex rule is still refused", async () => {
    const res = await get("http://10.1.2.3/");
    expect(res.status).toBe(403);
    expect(res.headers["x-jailed-denied"]).toBe("refused-address");
  });

  test("an address a rule names is dialed, on that rule's port only", async () => {
    const res = await get(`http://127.0.0.1:${plain.port}/direct`);
    expect(res).toMatchObject({ status: 200, body: `plain /direct host=127.0.0.1:${plain.port}` });
    // The same name that was refused on port 80 reaches the server where 127.0.0.1 is named:
    // the address check, not policy or DNS, is what stopped it above.
    const named = await get(`http://loopback.test:${plain.port}/named`);
    expect(named).toMatchObject({
      status: 200,
      body: `plain /named host=loopback.test:${plain.port}`,
    });
  });

  test("the refusal also holds for CONNECT tunnels", async () => {
    const agent = tunnelAgent(proxy.socketPath, { ca: proxy.proxy.caCertPem });
    const res = await reply(
      https.request({ host: "metadata.test", port: 443, path: "/latest/meta-data/", agent }),
    );
    expect(res.status).toBe(403);
    expect(res.headers["x-jailed-denied"]).toBe("refused-address");
    agent.destroy();
  });
});

describe("passthrough", () => {
  /** A TLS client through a passthrough tunnel to pinned.test, trusting the upstream's own CA. */
  async function pinnedClient(): Promise<tls.TLSSocket> {
    const result = await connectRaw(proxy.socketPath, "pinned.test:443");
    if (!("socket" in result)) throw new Error(result.refusal);
    const client = tls.connect({
      socket: result.socket,
      servername: "pinned.test",
      ca: secure.caPem,
    });
    await once(client, "secureConnect");
    return client;
  }

  test("the tunnel is not decrypted: the client sees the upstream's own certificate", async () => {
    const client = await pinnedClient();
    expect(client.authorized).toBe(true);
    const certificate = client.getPeerX509Certificate() as X509Certificate;
    expect(certificate.checkIssued(new X509Certificate(secure.caPem))).toBe(true);
    expect(certificate.checkIssued(new X509Certificate(proxy.proxy.caCertPem))).toBe(false);
    client.end("GET /pinned HTTP/1.1\r\nHost: pinned.test\r\nConnection: close\r\n\r\n");
    let text = "";
    for await (const chunk of client) text += chunk;
    expect(text).toMatch(/^HTTP\/1.1 200 OK.*secure \/pinned$/s);
  });

  test("a large download reaches a slow reader intact", async () => {
    const client = await pinnedClient();
    client.end("GET /big HTTP/1.1\r\nHost: pinned.test\r\nConnection: close\r\n\r\n");
    // Reading slowly keeps the proxy's writes to this client pending while more arrives upstream.
    const chunks: Buffer[] = [];
    for await (const chunk of client) {
      chunks.push(chunk as Buffer);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const response = Buffer.concat(chunks);
    const body = response.subarray(response.indexOf("\r\n\r\n") + 4);
    expect(body.length).toBe(BIG.length);
    expect(createHash("sha256").update(body).digest("hex")).toBe(
      createHash("sha256").update(BIG).digest("hex"),
    );
  });
});
