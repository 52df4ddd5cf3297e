// Proxy memory over many hosts: rounds of 10,000 HTTPS requests across 1,000 host names (10 per
// host, each host over its own tunnel), RSS after each round; the event loop's longest delay.
// Usage: node bench/proxy/memory.mjs [rounds, default 3] [hosts, default 1000] [parallel, default 16]
import { bundle, fetchLength, fmt, loopReport, record, spawnRole, tunnelAgent } from "./lib.mjs";

const rounds = Number(process.argv[2] ?? 3);
const hostCount = Number(process.argv[3] ?? 1000);
const perHost = 10;
const parallel = Number(process.argv[4] ?? 16);

await bundle();
const upstream = await spawnRole("upstream");
const hosts = Array.from({ length: hostCount }, (_, i) => `h${i}.bench.test`);
const map = { address: "127.0.0.1", port: upstream.port };
const proxy = await spawnRole("proxy", {
  rules: [{ action: "allow", host: "*.bench.test" }],
  upstreams: Object.fromEntries(hosts.map((host) => [host, map])),
  extraUpstreamCaPems: [upstream.caPem],
});
// As long as a jail takes to start: the proxy's warm-up is done before the first request.
await new Promise((resolve) => setTimeout(resolve, 200));
const baseline = await proxy.ask("stats");
console.log(
  `proxy started: import ${fmt(proxy.importMs, 1)} ms, startProxy ${fmt(proxy.startMs, 1)} ms, rss ${fmt(baseline.memory.rss, 1)} MiB`,
);

async function visit(host) {
  const agent = tunnelAgent(proxy.socketPath, { keepAlive: true, maxSockets: 1, ca: proxy.caPem });
  for (let i = 0; i < perHost; i++) await fetchLength({ host, port: 443, path: "/small", agent });
  agent.destroy();
}

const rssMiB = [];
const longest = { ownMs: 0, cpuMs: 0, wallMs: 0 };
for (let round = 1; round <= rounds; round++) {
  await proxy.ask("reset");
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < hosts.length) await visit(hosts[next++]);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const stats = await proxy.ask("stats");
  rssMiB.push(stats.memory.rss);
  if (stats.tasks) {
    longest.ownMs = Math.max(longest.ownMs, stats.tasks.maxOwnMs);
    longest.cpuMs = Math.max(longest.cpuMs, stats.tasks.maxMs);
    longest.wallMs = Math.max(longest.wallMs, stats.tasks.maxWallMs);
  }
  console.log(
    `round ${round}: ${hostCount * perHost} requests in ${fmt(seconds, 1)} s; proxy rss ${fmt(stats.memory.rss, 1)} MiB, ` +
      `V8 heap ${fmt(stats.memory.heapUsed, 1)} used of ${fmt(stats.memory.heapTotal, 1)} MiB, ` +
      `${loopReport(stats)}`,
  );
}
await proxy.stop();
await upstream.stop();
// With PROXY_TASKS=1 the hook that times callbacks holds memory of its own: RSS is not recorded.
record(
  "memory",
  process.env.PROXY_TASKS === "1"
    ? {
        hostCount,
        parallel,
        longestCallbackMs: longest,
        realtime: process.env.PROXY_REALTIME === "1",
      }
    : { hostCount, parallel, rssMiB },
);
