import https from "node:https";
import { afterAll, beforeAll, expect, test } from "vitest";
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
