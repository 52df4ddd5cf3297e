// What a request to a host the proxy has not seen yet costs: the leaf certificate (made here,
// in this process) and the whole first request through a fresh tunnel, against a fresh tunnel to
// a host already seen, in two kinds: one whose certificate the proxy has made but which it has no
// upstream connection to yet (the difference is the certificate alone), and one whose upstream
// connection it reuses (the difference adds the proxy's TLS handshake with the upstream, which a
// direct client pays too). Usage: node bench/proxy/first-host.mjs [hosts, default 300]
import https from "node:https";
import {
  BUNDLE,
  bundle,
  fetchLength,
  fmt,
  loopReport,
  record,
  spawnRole,
  summary,
  tunnelAgent,
} from "./lib.mjs";

const count = Number(process.argv[2] ?? 300);
await bundle();

// 1. Certificates alone: startup (CA), then one context per new host.
const { createCertificateAuthority } = await import(BUNDLE);
let start = performance.now();
const ca = createCertificateAuthority();
const caMs = performance.now() - start;
const certTimes = [];
for (let i = 0; i < count; i++) {
  start = performance.now();
  ca.contextFor(`cert${i}.bench.test`);
  certTimes.push(performance.now() - start);
}
const certs = summary(certTimes.slice(1));
console.log(
  `CA creation ${fmt(caMs, 2)} ms; leaf context: first ${fmt(certTimes[0], 2)} ms, then ` +
    `median ${fmt(certs.median, 2)} p90 ${fmt(certs.p90, 2)} p99 ${fmt(certs.p99, 2)} max ${fmt(certs.max, 2)} ms`,
);

// 2. End to end, one request at a time over a new tunnel each: new hosts vs one known host.
const upstream = await spawnRole("upstream");
const hosts = Array.from({ length: count }, (_, i) => `h${i}.bench.test`);
const seenHosts = Array.from({ length: count }, (_, i) => `s${i}.bench.test`);
const map = { address: "127.0.0.1", port: upstream.port };
const proxy = await spawnRole("proxy", {
  // A request for /unseen is answered by the proxy itself, after the TLS handshake that made the
  // host's certificate: the host is then seen, and the proxy has no connection to it.
  rules: [
    { action: "deny", host: "*.bench.test", path: "/unseen" },
    { action: "allow", host: "*.bench.test" },
  ],
  upstreams: Object.fromEntries(
    [...hosts, ...seenHosts, "known.bench.test"].map((host) => [host, map]),
  ),
  extraUpstreamCaPems: [upstream.caPem],
});
console.log(
  `proxy process: bundle import ${fmt(proxy.importMs, 1)} ms, startProxy ${fmt(proxy.startMs, 1)} ms`,
);
await new Promise((resolve) => setTimeout(resolve, 200)); // as a jail would take to start

async function once(host, path = "/small") {
  const agent = tunnelAgent(proxy.socketPath, { ca: proxy.caPem });
  const begin = performance.now();
  await fetchLength({ host, port: 443, path, agent });
  const ms = performance.now() - begin;
  agent.destroy();
  return ms;
}
// The client's own first TLS connection is slow too: pay for it on a direct request first.
const directAgent = new https.Agent({ ca: upstream.caPem });
let begin = performance.now();
await fetchLength({
  host: "127.0.0.1",
  port: upstream.port,
  servername: "direct.bench.test",
  path: "/small",
  agent: directAgent,
});
const directFirst = performance.now() - begin;
begin = performance.now();
await fetchLength({
  host: "127.0.0.1",
  port: upstream.port,
  servername: "direct2.bench.test",
  path: "/small",
  agent: directAgent,
});
const directSecond = performance.now() - begin;
directAgent.destroy();
console.log(
  `direct, new connection and host: first ${fmt(directFirst, 2)} ms, second ${fmt(directSecond, 2)} ms`,
);

await proxy.ask("reset");
const times = { first: 0, known: [], seen: [], fresh: [] };
times.first = await once("known.bench.test");
for (const host of seenHosts) await once(host, "/unseen");
// The three kinds take turns going first, so that none always follows the same one.
for (const [i, host] of hosts.entries()) {
  const kinds = [
    async () => times.fresh.push(await once(host)),
    async () => times.seen.push(await once(seenHosts[i])),
    async () => times.known.push(await once("known.bench.test")),
  ];
  for (let k = 0; k < kinds.length; k++) await kinds[(i + k) % kinds.length]();
}
const stats = await proxy.ask("stats");
await proxy.stop();
await upstream.stop();

const fresh = summary(times.fresh);
const known = summary(times.known);
const seen = summary(times.seen);
console.log(
  `through the proxy, its first request (fresh tunnel, new host): ${fmt(times.first, 2)} ms`,
);
console.log(
  `fresh tunnel, known host, upstream connection reused: median ${fmt(known.median, 2)} p90 ${fmt(known.p90, 2)} ms`,
);
console.log(
  `fresh tunnel, known host, new upstream connection:    median ${fmt(seen.median, 2)} p90 ${fmt(seen.p90, 2)} ms`,
);
console.log(
  `fresh tunnel, new host:                               median ${fmt(fresh.median, 2)} p90 ${fmt(fresh.p90, 2)} ms`,
);
console.log(
  `  a new host adds ${fmt(fresh.median - seen.median, 2)} ms for its certificate, ` +
    `${fmt(fresh.median - known.median, 2)} ms with the upstream handshake (medians)`,
);
console.log(`proxy: ${loopReport(stats)}`);
record("first-host", {
  certificateMs: fresh.median - seen.median,
  withUpstreamHandshakeMs: fresh.median - known.median,
  leafMs: certs.median,
});
