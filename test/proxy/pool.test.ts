import { once } from "node:events";
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import {
  AUTH,
  connectRaw,
  reply,
  startHttpsUpstream,
  startTestProxy,
  type TestProxy,
  tunnelAgent,
  type Upstream,
  waitForText,
} from "./helpers.js";

let upstream: Upstream;
let proxy: TestProxy;
const hosts = Array.from({ length: 40 }, (_, i) => `h${i}.pool.test`);
const aheadHosts = ["ahead.pool.test", "idle.pool.test", "plain.pool.test", "pipelined.pool.test"];

beforeAll(async () => {
  upstream = await startHttpsUpstream((_req, res) => res.end("ok"));
  proxy = await startTestProxy(
    [
      { action: "deny", host: "*.pool.test", path: "/denied" },
      { action: "allow", host: "*.pool.test" },
    ],
    {
      upstreams: Object.fromEntries(
        [...hosts, ...aheadHosts].map((host) => [
          host,
          { address: "127.0.0.1", port: upstream.port },
        ]),
      ),
      extraUpstreamCaPems: [upstream.caPem],
    },
  );
});

afterAll(async () => {
  await proxy.finish();
  await upstream.close();
});

const openConnections = () =>
  new Promise<number>((resolve, reject) =>
    upstream.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

test("idle upstream connections are capped across hosts, the longest idle closed first", async () => {
  const agent = tunnelAgent(proxy.socketPath, { ca: proxy.proxy.caCertPem });
  for (const host of hosts) {
    expect((await reply(https.request({ host, port: 443, path: "/", agent }))).status).toBe(200);
  }
  agent.destroy();
  // One pooled connection per host would be 40; the pool keeps 32.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(upstream.connections()).toBe(40);
  expect(await openConnections()).toBe(32);
  // The most recently used host still has its connection.
  const again = tunnelAgent(proxy.socketPath, { ca: proxy.proxy.caCertPem });
  await reply(https.request({ host: hosts.at(-1) as string, port: 443, path: "/", agent: again }));
  expect(upstream.connections()).toBe(40);
  again.destroy();
});

async function tunnelTo(host: string): Promise<Duplex> {
  const tunnel = await connectRaw(proxy.socketPath, `${host}:443`);
  if ("refusal" in tunnel) throw new Error(tunnel.refusal);
  return tunnel.socket;
}

async function readAll(stream: Duplex): Promise<string> {
  let text = "";
  stream.setEncoding("latin1");
  for await (const chunk of stream) text += chunk as string;
  return text;
}

test("a decrypted tunnel's upstream connection is dialled on CONNECT, and its first request takes it", async () => {
  const before = upstream.connections();
  const tunnel = await tunnelTo("ahead.pool.test");
  // The client has sent nothing after CONNECT, yet the upstream already has the connection.
  await vi.waitFor(() => expect(upstream.connections()).toBe(before + 1));
  const secure = tls.connect({
    socket: tunnel as never,
    servername: "ahead.pool.test",
    ca: proxy.proxy.caCertPem,
  });
  await once(secure, "secureConnect");
  secure.write("GET / HTTP/1.1\r\nHost: ahead.pool.test\r\nConnection: close\r\n\r\n");
  const answer = await readAll(secure);
  expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  expect(answer.endsWith("ok")).toBe(true);
  expect(upstream.connections()).toBe(before + 1);
});

/** Open upstream connections by the server name the proxy sent. */
const openTo = new Map<string, number>();

function countOpenByName(): void {
  upstream.server.on("secureConnection", (socket: tls.TLSSocket) => {
    const name = socket.servername || "";
    openTo.set(name, (openTo.get(name) ?? 0) + 1);
    socket.once("close", () => openTo.set(name, (openTo.get(name) ?? 0) - 1));
  });
}

test("the connection dialled for a tunnel closes with the tunnel when no request took it", async () => {
  countOpenByName();
  const tunnel = await tunnelTo("idle.pool.test");
  await vi.waitFor(() => expect(openTo.get("idle.pool.test")).toBe(1));
  tunnel.destroy();
  await vi.waitFor(() => expect(openTo.get("idle.pool.test")).toBe(0));
});

test("a tunnel that carries plain HTTP closes the TLS connection dialled for it at once", async () => {
  const tunnel = await tunnelTo("plain.pool.test");
  await vi.waitFor(() => expect(openTo.get("plain.pool.test")).toBe(1));
  // Denied by path, so the plain request itself opens nothing upstream.
  tunnel.write("GET /denied HTTP/1.1\r\nHost: plain.pool.test\r\n\r\n");
  await vi.waitFor(() => expect(openTo.get("plain.pool.test")).toBe(0));
  tunnel.destroy();
});

test("a tunnel whose plain HTTP request came with its CONNECT dials nothing ahead", async () => {
  const before = upstream.connections();
  const client = net.connect(proxy.socketPath);
  await once(client, "connect");
  // One write: the proxy has the request's first byte before the turn that would dial ahead. The
  // tunnel stays open after the answer, as a keep-alive client's does.
  const authority = "pipelined.pool.test:443";
  client.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${AUTH}\r\n\r\n` +
      "GET /denied HTTP/1.1\r\nHost: pipelined.pool.test\r\n\r\n",
  );
  const answer = await waitForText(client, (text) => /HTTP\/1\.1 403 /.test(text));
  expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  // Time for a dial the proxy should not have made to reach the upstream.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(upstream.connections()).toBe(before);
  client.destroy();
});
