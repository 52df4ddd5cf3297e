import { createHash, randomBytes, type X509Certificate } from "node:crypto";
import { once } from "node:events";
import type http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import {
  connectRaw,
  reply,
  startHttpsUpstream,
  startTestProxy,
  type TestProxy,
  tunnelAgent,
  type Upstream,
  waitForText,
} from "./helpers.js";

/** Lets a test hold the upstream until the client has seen what came before. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

const DOWNLOAD = randomBytes(6 * 1024 * 1024 + 17);

let sseGate = gate();
let uploadGate = gate();

async function upstreamHandler(req: http.IncomingMessage, res: http.ServerResponse) {
  if (req.url === "/sse") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: one\n\n");
    // The second token is only sent once the client has received the first through the proxy.
    await sseGate.opened;
    res.end("data: two\n\n");
    return;
  }
  if (req.url === "/upload-stream") {
    let seen = "";
    for await (const chunk of req) {
      seen += chunk;
      if (seen === "first;") uploadGate.open();
    }
    res.end(`got ${seen}`);
    return;
  }
  if (req.url === "/download") {
    res.writeHead(200, { "content-length": DOWNLOAD.length });
    // In pieces, as a server writes a file: more than the proxy buffers for a slow reader.
    for (let at = 0; at < DOWNLOAD.length; at += 1 << 16) {
      if (!res.write(DOWNLOAD.subarray(at, at + (1 << 16)))) await once(res, "drain");
    }
    res.end();
    return;
  }
  if (req.url === "/upload") {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of req) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    res.end(`${size} ${hash.digest("hex")} ${req.headers["transfer-encoding"] ?? "-"}`);
    return;
  }
  const seen = {
    url: req.url,
    host: req.headers.host,
    proxyAuthorization: req.headers["proxy-authorization"] ?? null,
    remotePort: req.socket.remotePort,
  };
  res.setHeader("set-cookie", ["a=1", "b=2"]);
  res.end(JSON.stringify(seen));
}

let upstream: Upstream;
let untrusted: Upstream;
let proxy: TestProxy;

beforeAll(async () => {
  upstream = await startHttpsUpstream((req, res) => void upstreamHandler(req, res));
  untrusted = await startHttpsUpstream((_req, res) => res.end("should not be reached"));
  upstream.server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    const key = req.headers["sec-websocket-key"] as string;
    const accept = createHash("sha1")
      .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on("data", (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
  });
  proxy = await startTestProxy(
    [
      { action: "deny", host: "api.test", path: "/admin/**" },
      { action: "allow", host: "api.test" },
      { action: "allow", host: "untrusted.test" },
      { action: "allow", host: "paths.test", path: "/ok/**", methods: ["GET"] },
    ],
    {
      upstreams: {
        "api.test": { address: "127.0.0.1", port: upstream.port },
        "paths.test": { address: "127.0.0.1", port: upstream.port },
        "untrusted.test": { address: "127.0.0.1", port: untrusted.port },
      },
      extraUpstreamCaPems: [upstream.caPem],
    },
  );
});

afterAll(async () => {
  await proxy.finish();
  await upstream.close();
  await untrusted.close();
});

const agentFor = (options: https.AgentOptions & { onTunnel?: () => void } = {}) =>
  tunnelAgent(proxy.socketPath, { ca: proxy.proxy.caCertPem, ...options });

describe("HTTPS through the decrypting proxy", () => {
  test("reaches the upstream with a certificate from the run's CA, verified by the client", async () => {
    const agent = agentFor();
    const req = https.request({ host: "api.test", port: 443, path: "/hello?x=1", agent });
    let peer: { authorized: boolean; certificate: X509Certificate | undefined } | undefined;
    req.on("socket", (socket: tls.TLSSocket) =>
      socket.once("secureConnect", () => {
        peer = { authorized: socket.authorized, certificate: socket.getPeerX509Certificate() };
      }),
    );
    const res = await reply(req);
    expect(res.status).toBe(200);
    expect(peer?.authorized).toBe(true);
    expect(peer?.certificate?.subjectAltName).toBe("DNS:api.test");
    expect(peer?.certificate?.issuer).toMatch(/jailed run CA/);
    const seen = JSON.parse(res.body);
    expect(seen).toMatchObject({ url: "/hello?x=1", host: "api.test", proxyAuthorization: null });
    expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    agent.destroy();
  });

  test("a client that does not trust the run's CA fails the handshake", async () => {
    const agent = agentFor({ ca: upstream.caPem });
    await expect(
      reply(https.request({ host: "api.test", port: 443, path: "/", agent })),
    ).rejects.toThrow(/self.signed|unable to (get|verify)/i);
    agent.destroy();
  });

  test("a tunnel whose client leaves before its first byte is closed, not left half open", async () => {
    const tunnel = await connectRaw(proxy.socketPath, "api.test:443");
    if ("refusal" in tunnel) throw new Error(tunnel.refusal);
    tunnel.socket.end();
    // The client's socket closes once the proxy closes its side too.
    await vi.waitFor(() => expect(tunnel.socket.closed).toBe(true));
  });

  test("the upstream certificate is verified: an upstream the proxy does not trust gets 502", async () => {
    const agent = agentFor();
    const res = await reply(https.request({ host: "untrusted.test", port: 443, path: "/", agent }));
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/SELF_SIGNED|UNABLE_TO_GET_ISSUER|unable to verify/i);
    expect(res.body).not.toContain("should not be reached");
    agent.destroy();
  });

  test("every request in a tunnel is decided: path, method, dot segments", async () => {
    const agent = agentFor({ keepAlive: true, maxSockets: 1 });
    const get = (host: string, path: string, method = "GET") =>
      reply(https.request({ host, port: 443, path, method, agent }));
    expect((await get("paths.test", "/ok/a")).status).toBe(200);
    const escaped = await get("paths.test", "/ok/../secret");
    expect(escaped.status).toBe(403);
    expect(escaped.headers["x-jailed-denied"]).toBe("default-deny");
    expect((await get("paths.test", "/ok/%2e%2e/secret")).status).toBe(403);
    expect((await get("paths.test", "/ok/a", "POST")).status).toBe(403);
    const admin = await get("api.test", "/x/../admin/users");
    expect(admin.status).toBe(403);
    expect(admin.headers["x-jailed-denied"]).toBe("deny-rule");
    expect(admin.body).toContain("rule 0 denies it: deny host=api.test path=/admin/**");
    // What was checked is what is sent.
    expect(JSON.parse((await get("api.test", "/a/./b/../c")).body).url).toBe("/a/c");
    agent.destroy();
  });

  test("a Host header naming another server inside a tunnel is refused", async () => {
    const agent = agentFor();
    const res = await reply(
      https.request({
        host: "api.test",
        servername: "api.test",
        port: 443,
        path: "/",
        agent,
        headers: { host: "evil.test" },
      }),
    );
    expect(res.status).toBe(403);
    expect(res.headers["x-jailed-denied"]).toBe("host-mismatch");
    agent.destroy();
  });

  test("keep-alive: many requests on one client connection, one upstream connection", async () => {
    let tunnels = 0;
    const agent = agentFor({ keepAlive: true, maxSockets: 1, onTunnel: () => tunnels++ });
    const before = upstream.connections();
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const res = await reply(
        https.request({ host: "api.test", port: 443, path: `/n${i}`, agent }),
      );
      ports.add(JSON.parse(res.body).remotePort);
    }
    expect(tunnels).toBe(1);
    expect(upstream.connections() - before).toBeLessThanOrEqual(1);
    expect(ports.size).toBe(1);
    agent.destroy();
  });

  test("server-sent events flow token by token", async () => {
    sseGate = gate();
    const agent = agentFor();
    const req = https.request({ host: "api.test", port: 443, path: "/sse", agent });
    req.end();
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    expect(res.headers["content-type"]).toBe("text/event-stream");
    // The upstream is still holding "two": this only resolves if "one" was not buffered.
    await waitForText(res, (text) => text.includes("data: one"));
    sseGate.open();
    await waitForText(res, (text) => text.includes("data: two"));
    agent.destroy();
  });

  test("a chunked upload streams: the upstream sees the first chunk before the second is sent", async () => {
    uploadGate = gate();
    const agent = agentFor();
    const req = https.request({
      host: "api.test",
      port: 443,
      path: "/upload-stream",
      method: "POST",
      agent,
    });
    req.write("first;");
    await uploadGate.opened;
    const res = await reply(req, "second");
    expect(res.body).toBe("got first;second");
    agent.destroy();
  });

  test("a large chunked upload arrives whole", async () => {
    const agent = agentFor();
    const block = Buffer.alloc(1 << 20, 7);
    const hash = createHash("sha256");
    const req = https.request({
      host: "api.test",
      port: 443,
      path: "/upload",
      method: "PUT",
      agent,
    });
    for (let i = 0; i < 64; i++) {
      hash.update(block);
      if (!req.write(block)) await once(req, "drain");
    }
    const res = await reply(req);
    expect(res.body).toBe(`${64 << 20} ${hash.digest("hex")} chunked`);
    agent.destroy();
  });

  test("a large download reaches a slow reader whole and in order", async () => {
    const agent = agentFor();
    const req = https.request({ host: "api.test", port: 443, path: "/download", agent });
    req.end();
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of res) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      // Slower than the upstream: the proxy has to hold back and resume.
      if (size % (1 << 20) < (chunk as Buffer).length) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(size).toBe(DOWNLOAD.length);
    expect(hash.digest("hex")).toBe(createHash("sha256").update(DOWNLOAD).digest("hex"));
    agent.destroy();
  });

  test("WebSocket upgrade through the decrypting proxy", async () => {
    const agent = agentFor();
    const key = Buffer.from("0123456789abcdef").toString("base64");
    const req = https.request({
      host: "api.test",
      port: 443,
      path: "/ws",
      agent,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-key": key,
        "sec-websocket-version": "13",
      },
    });
    req.end();
    const [res, socket] = (await once(req, "upgrade")) as [http.IncomingMessage, Duplex];
    expect(res.statusCode).toBe(101);
    expect(res.headers["sec-websocket-accept"]).toBe(
      createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64"),
    );
    socket.write("hello");
    await waitForText(socket, (text) => text === "HELLO");
    socket.destroy();
    agent.destroy();
  });

  test("a WebSocket upgrade to a denied path is refused", async () => {
    const agent = agentFor();
    const req = https.request({
      host: "api.test",
      port: 443,
      path: "/admin/ws",
      agent,
      headers: { connection: "Upgrade", upgrade: "websocket" },
    });
    const res = await reply(req);
    expect(res.status).toBe(403);
    expect(res.headers["x-jailed-denied"]).toBe("deny-rule");
    agent.destroy();
  });

  test("the audit log has one line per decision, with sizes", async () => {
    const raw = await connectRaw(proxy.socketPath, "nowhere.test:443");
    expect("refusal" in raw).toBe(true);
    const entries = await proxy.finish();
    const upload = entries.find((e) => e.url === "https://api.test/upload");
    expect(upload).toMatchObject({
      method: "PUT",
      decision: "allow",
      rule: 1,
      reason: null,
      status: 200,
    });
    expect(upload?.bytesUp).toBe(64 << 20);
    expect(entries.find((e) => e.url === "https://paths.test/secret")).toMatchObject({
      method: "GET",
      decision: "deny",
      rule: null,
      reason: "default-deny",
      status: 403,
    });
    expect(entries.find((e) => e.url === "nowhere.test:443")).toMatchObject({
      method: "CONNECT",
      decision: "deny",
      status: 403,
    });
    expect(entries.find((e) => e.url === "https://api.test/ws")).toMatchObject({
      status: 101,
      bytesUp: 5,
      bytesDown: 5,
    });
    const tunnel = entries.find((e) => e.url === "api.test:443" && e.status === 200);
    expect(tunnel).toMatchObject({ method: "CONNECT", decision: "allow", rule: 1 });
    expect(tunnel?.bytesUp).toBeGreaterThan(0);
    expect(tunnel?.bytesDown).toBeGreaterThan(0);
    const hello = entries.find((e) => e.url === "https://api.test/hello?x=1");
    expect(hello?.bytesDown).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual([
        "bytesDown",
        "bytesUp",
        "decision",
        "durationMs",
        "method",
        "reason",
        "rule",
        "status",
        "time",
        "url",
      ]);
      expect(new Date(entry.time as string).toISOString()).toBe(entry.time);
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
    }
  });
});
