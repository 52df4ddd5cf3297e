// Server-sent events through the decrypting proxy against direct, as an LLM API streams tokens:
// time to the first event over a keep-alive connection, and how late each event arrives after the
// upstream wrote it. Streams alternate between the two, one at a time. Then, in the same run, the
// same streams from a client in Anthropic's sandbox-runtime through its decrypting proxy (srt.mjs).
// Usage: node bench/proxy/sse.mjs [streams per mode, default 200] [events per stream, default 20]
import {
  addedToDirect,
  directAndInspect,
  fmt,
  loopReport,
  record,
  sseStream,
  summary,
} from "./lib.mjs";
import { srtModes } from "./srt.mjs";

const streams = Number(process.argv[2] ?? 200);
const events = Number(process.argv[3] ?? 20);
const GAP_MS = 5;

const { upstream, proxy, modes, stop } = await directAndInspect();

const stream = (mode) => sseStream(mode, events, GAP_MS);
for (let i = 0; i < 20; i++) for (const mode of Object.values(modes)) await stream(mode);
await proxy.ask("reset");
const first = Object.fromEntries(Object.keys(modes).map((name) => [name, []]));
const delay = Object.fromEntries(Object.keys(modes).map((name) => [name, []]));
for (let i = 0; i < streams; i++) {
  for (const [name, mode] of Object.entries(modes)) {
    const result = await stream(mode);
    first[name].push(result.firstMs);
    delay[name].push(...result.delays);
  }
}
const stats = await proxy.ask("stats");
const srtInspect = srtModes(upstream)["srt-inspect"];
if (srtInspect) {
  const srt = await srtInspect("sse", streams, events, GAP_MS);
  first["srt-inspect"] = srt.first;
  delay["srt-inspect"] = srt.delays;
}
await stop();

const row = (s) => [s.median, s.p10, s.p90, s.p99, s.max].map((x) => fmt(x)).join(" ");
console.log(
  `SSE over keep-alive HTTPS, ${streams} streams of ${events} events (${GAP_MS} ms apart) each, ms: median p10 p90 p99 max`,
);
const summaries = {};
for (const name of Object.keys(first)) {
  summaries[name] = { first: summary(first[name]), delay: summary(delay[name]) };
  console.log(`  ${name.padEnd(14)} first event  ${row(summaries[name].first)}`);
  console.log(`  ${"".padEnd(14)} event delay  ${row(summaries[name].delay)}`);
}
const { direct } = summaries;
for (const [name, s] of Object.entries(summaries)) {
  if (name === "direct") continue;
  console.log(
    `  added, ${name}: first event median ${fmt(s.first.median - direct.first.median)} ms ` +
      `(p90 ${fmt(s.first.p90 - direct.first.p90)}), event delay median ` +
      `${fmt(s.delay.median - direct.delay.median)} ms (p90 ${fmt(s.delay.p90 - direct.delay.p90)})`,
  );
}
console.log(`proxy: ${loopReport(stats)}`);
record("sse", {
  firstEventAddedMs: addedToDirect(summaries, (s) => s.first.median),
  eventDelayAddedMs: addedToDirect(summaries, (s) => s.delay.median),
  eventDelayAddedP90Ms: addedToDirect(summaries, (s) => s.delay.p90),
});
