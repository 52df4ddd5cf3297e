// Added latency of a keep-alive HTTPS request through the decrypting proxy (small response),
// against the same request direct. Requests alternate between the two, one at a time.
// Usage: node bench/proxy/latency.mjs [requests per mode, default 3000]
import { directAndInspect, fetchLength, fmt, loopReport, summary } from "./lib.mjs";

const count = Number(process.argv[2] ?? 3000);

const { upstream, proxy, modes } = await directAndInspect();
const times = { direct: [], inspect: [] };
for (let i = 0; i < 200; i++) {
  for (const { agent, options } of Object.values(modes))
    await fetchLength({ ...options, agent, path: "/small" });
}
await proxy.ask("reset");
for (let i = 0; i < count; i++) {
  for (const [name, { agent, options }] of Object.entries(modes)) {
    const start = performance.now();
    await fetchLength({ ...options, agent, path: "/small" });
    times[name].push(performance.now() - start);
  }
}
const stats = await proxy.ask("stats");
for (const { agent } of Object.values(modes)) agent.destroy();
await proxy.stop();
await upstream.stop();

const direct = summary(times.direct);
const inspect = summary(times.inspect);
console.log(`keep-alive HTTPS GET, ${count} requests each, ms: median p10 p90 p99 max`);
for (const [name, s] of [
  ["direct", direct],
  ["inspect", inspect],
]) {
  console.log(
    `  ${name.padEnd(8)} ${[s.median, s.p10, s.p90, s.p99, s.max].map((x) => fmt(x)).join(" ")}`,
  );
}
console.log(
  `  added by the proxy: median ${fmt(inspect.median - direct.median)} ms, p90 ${fmt(inspect.p90 - direct.p90)} ms`,
);
console.log(`proxy: CPU ${fmt(stats.cpuMs / count)} ms per request; ${loopReport(stats)}`);
