// Added latency of a keep-alive HTTPS request through the decrypting proxy (small response),
// against the same request direct; through the jail's bridge and straight to the proxy's socket.
// Requests alternate between the modes, one at a time. Then, in the same run, the same requests
// from a client in Anthropic's sandbox-runtime through its decrypting proxy (srt.mjs).
// Usage: node bench/proxy/latency.mjs [requests per mode, default 3000]
import {
  addedToDirect,
  directAndInspect,
  fetchLength,
  fmt,
  loopReport,
  record,
  summary,
} from "./lib.mjs";
import { srtModes } from "./srt.mjs";

const count = Number(process.argv[2] ?? 3000);

const { upstream, proxy, modes, stop } = await directAndInspect();
const times = Object.fromEntries(Object.keys(modes).map((name) => [name, []]));
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
const srtInspect = srtModes(upstream)["srt-inspect"];
if (srtInspect) times["srt-inspect"] = await srtInspect("requests", count);
await stop();

const summaries = Object.fromEntries(Object.entries(times).map(([name, t]) => [name, summary(t)]));
const { direct } = summaries;
console.log(`keep-alive HTTPS GET, ${count} requests each, ms: median p10 p90 p99 max`);
for (const [name, s] of Object.entries(summaries)) {
  console.log(
    `  ${name.padEnd(14)} ${[s.median, s.p10, s.p90, s.p99, s.max].map((x) => fmt(x)).join(" ")}`,
  );
}
for (const [name, s] of Object.entries(summaries)) {
  if (name === "direct") continue;
  console.log(
    `  added, ${name}: median ${fmt(s.median - direct.median)} ms, p90 ${fmt(s.p90 - direct.p90)} ms`,
  );
}
const srt = summaries["srt-inspect"];
if (srt) {
  const ratio = (summaries.inspect.median - direct.median) / (srt.median - direct.median);
  console.log(`  added, jailed ÷ srt (through each one's bridge): ${fmt(ratio, 2)}`);
}
console.log(`proxy: CPU ${fmt(stats.cpuMs / (2 * count))} ms per request; ${loopReport(stats)}`);
record("latency", { count, addedMs: addedToDirect(summaries) });
