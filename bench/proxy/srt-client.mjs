// The benchmarks' client inside Anthropic's sandbox-runtime (srt.mjs starts it with `srt -c`): it
// reaches the upstream through srt's proxy, as srt's HTTPS_PROXY says, the way a sandboxed client
// does, and prints its figures as JSON on stdout.
// Usage: node srt-client.mjs PORT CA download BYTES   (prints MiB/s)
//        node srt-client.mjs PORT CA requests COUNT   (prints each request's ms)
//        node srt-client.mjs PORT CA sse STREAMS EVENTS GAP_MS   (prints each stream's ms to its
//        first event, and each event's delay after the upstream wrote it)
// CA is the upstream's CA file for a tunnel; `-` when srt decrypts, whose trust bundle srt puts in
// NODE_EXTRA_CA_CERTS.
import { readFileSync } from "node:fs";
import { fetchLength, sseStream, tunnelAgent } from "./lib.mjs";

const [port, caFile, workload, amount, ...more] = process.argv.slice(2);
const proxy = new URL(process.env.HTTPS_PROXY ?? "");
const credential = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
const agent = tunnelAgent(
  { host: proxy.hostname, port: Number(proxy.port) },
  { keepAlive: true, maxSockets: 1, ...(caFile === "-" ? {} : { ca: readFileSync(caFile) }) },
  credential,
);
const options = { host: "localhost", port: Number(port) };
const get = (path) => fetchLength({ ...options, path, agent });

if (workload === "download") {
  const bytes = Number(amount);
  await get(`/bytes?n=${8 * 2 ** 20}`); // warm up the connection, as throughput.mjs does
  const start = performance.now();
  const length = await get(`/bytes?n=${bytes}`);
  if (length !== bytes) throw new Error(`got ${length} bytes of ${bytes}`);
  console.log(JSON.stringify(bytes / 2 ** 20 / ((performance.now() - start) / 1000)));
} else if (workload === "requests") {
  for (let i = 0; i < 200; i++) await get("/small"); // as latency.mjs warms up
  const times = [];
  for (let i = 0; i < Number(amount); i++) {
    const start = performance.now();
    await get("/small");
    times.push(performance.now() - start);
  }
  console.log(JSON.stringify(times));
} else if (workload === "sse") {
  const [events, gapMs] = more.map(Number);
  const stream = () => sseStream({ agent, options }, events, gapMs);
  for (let i = 0; i < 20; i++) await stream(); // as sse.mjs warms up
  const first = [];
  const delays = [];
  for (let i = 0; i < Number(amount); i++) {
    const result = await stream();
    first.push(result.firstMs);
    delays.push(...result.delays);
  }
  console.log(JSON.stringify({ first, delays }));
} else {
  throw new Error(`unknown workload ${workload}`);
}
agent.destroy();
