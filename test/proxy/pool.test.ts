import { once } from "node:events";
import https from "node:https";
import type net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createCertificateAuthority } from "../../src/proxy/tls/authority.js";
import {
  reply,
  startHttpsUpstream,
  startTestProxy,
  type TestProxy,
  tunnelAgent,
  type Upstream,
} from "./helpers.js";

let upstream: Upstream;
let proxy: TestProxy;
const hosts = Array.from({ length: 40 }, (_, i) => `h${i}.pool.test`);

beforeAll(async () => {
  upstream = await startHttpsUpstream((_req, res) => res.end("ok"));
  proxy = await startTestProxy([{ action: "allow", host: "*.pool.test" }], {
    upstreams: Object.fromEntries(
      hosts.map((host) => [host, { address: "127.0.0.1", port: upstream.port }]),
    ),
    extraUpstreamCaPems: [upstream.caPem],
  });
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

test("a connection made with an evicted certificate context keeps working", async () => {
  const ca = createCertificateAuthority();
  const server = tls.createServer(
    { SNICallback: (name, done) => done(null, ca.contextFor(name)) },
    (socket) => socket.pipe(socket),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const client = tls.connect({ host: "127.0.0.1", port, servername: "first.test", ca: ca.certPem });
  await once(client, "secureConnect");
  // Push first.test's context out of the cache (and close it), then use the connection.
  for (let i = 0; i < 101; i++) ca.contextFor(`filler${i}.test`);
  client.write("still here");
  const [echo] = (await once(client, "data")) as [Buffer];
  expect(echo.toString()).toBe("still here");
  client.destroy();
  server.close();
});
