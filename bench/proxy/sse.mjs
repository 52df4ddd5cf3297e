// Server-sent events through the decrypting proxy against direct, as an LLM API streams tokens:
// time to the first event over a keep-alive connection, and how late each event arrives after the
// upstream wrote it. Streams alternate between the two, one at a time.
// Usage: node bench/proxy/sse.mjs [streams per mode, default 200] [events per stream, default 20]
import https from "node:https";
import { directAndInspect, fmt, loopReport, record, summary } from "./lib.mjs";

const streams = Number(process.argv[2] ?? 200);
const events = Number(process.argv[3] ?? 20);
const GAP_MS = 5;

const { proxy, modes, stop } = await directAndInspect();

/** One stream: ms from sending the request to the first event, and each event's delay in ms. */
function stream({ agent, options }) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let firstMs;
    const delays = [];
    let text = "";
    const req = https.request(
      { ...options, agent, path: `/sse?events=${events}&gap=${GAP_MS}` },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          const now = performance.timeOrigin + performance.now();
          firstMs ??= performance.now() - start;
          text += chunk;
          for (let end = text.indexOf("\n\n"); end !== -1; end = text.indexOf("\n\n")) {
            delays.push(now - Number(text.slice("data: ".length, end)));
            text = text.slice(end + 2);
          }
        });
        res.on("end", () =>
          delays.length === events
            ? resolve({ firstMs, delays })
            : reject(new Error(`got ${delays.length} of ${events} events`)),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

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
await stop();

const row = (s) => [s.median, s.p10, s.p90, s.p99, s.max].map((x) => fmt(x)).join(" ");
console.log(
  `SSE over keep-alive HTTPS, ${streams} streams of ${events} events (${GAP_MS} ms apart) each, ms: median p10 p90 p99 max`,
);
const summaries = {};
for (const name of Object.keys(modes)) {
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
const added = (pick) =>
  Object.fromEntries(
    Object.entries(summaries)
      .filter(([name]) => name !== "direct")
      .map(([name, s]) => [name, pick(s).median - pick(direct).median]),
  );
record("sse", {
  firstEventAddedMs: added((s) => s.first),
  eventDelayAddedMs: added((s) => s.delay),
});
