// Child processes of the benchmarks: `upstream` (an HTTPS server with its own CA), `proxy`, or
// `relay` (relay-floor.mjs).
import { createHook } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import tls from "node:tls";
import { BUNDLE, TOKEN } from "./lib.mjs";

const role = process.argv[2];
const BLOCK = Buffer.alloc(64 * 1024, "x");
/** As the proxy's STREAM_BUFFER_BYTES. */
const RELAY_BUFFER_BYTES = 1024 * 1024;
let shutdown = async () => {};

async function upstream() {
  const { createCertificateAuthority } = await import(BUNDLE);
  const ca = createCertificateAuthority();
  const server = https.createServer(
    { SNICallback: (name, done) => done(null, ca.contextFor(name)) },
    (req, res) => {
      const url = new URL(req.url, "https://x");
      if (url.pathname === "/bytes") {
        let left = Number(url.searchParams.get("n"));
        res.writeHead(200, { "content-length": left });
        const pump = () => {
          while (left > 0) {
            const chunk = left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left);
            left -= chunk.length;
            if (!res.write(chunk)) return res.once("drain", pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (url.pathname === "/sse") {
        sse(res, Number(url.searchParams.get("events")), Number(url.searchParams.get("gap")));
        return;
      }
      res.end("ok");
    },
  );
  server.keepAliveTimeout = 60_000;
  reportCpu();
  server.listen(0, "127.0.0.1", () =>
    process.send({ port: server.address().port, caPem: ca.certPem }),
  );
}

/** Answers `stats` with the process's CPU time since the last `reset`, so a benchmark can tell how
 * much of the machine each process took. */
function reportCpu() {
  let cpu = process.cpuUsage();
  process.on("message", (message) => {
    if (message.type === "stats") {
      const used = process.cpuUsage(cpu);
      process.send({ cpuMs: (used.user + used.system) / 1000 });
    }
    if (message.type === "reset") {
      cpu = process.cpuUsage();
      process.send({});
    }
  });
}

/**
 * A bare TLS relay (relay-floor.mjs): TLS in, TLS out to the upstream, bytes piped both ways, with
 * the proxy's 1 MB buffers and nothing else: no HTTP, no policy. On loopback TCP, or on `socketPath`.
 */
async function relay({ upstreamPort, upstreamCaPem, socketPath }) {
  const { createCertificateAuthority } = await import(BUNDLE);
  const ca = createCertificateAuthority();
  const context = ca.contextFor("relay.test");
  const server = tls.createServer(
    { SNICallback: (_name, done) => done(null, context), highWaterMark: RELAY_BUFFER_BYTES },
    (client) => {
      const upstream = tls.connect({
        host: "127.0.0.1",
        port: upstreamPort,
        servername: "relay.test",
        ca: upstreamCaPem,
        highWaterMark: RELAY_BUFFER_BYTES,
      });
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    },
  );
  reportCpu();
  const listening = () =>
    process.send({ port: socketPath ? null : server.address().port, caPem: ca.certPem });
  if (socketPath) server.listen(socketPath, listening);
  else server.listen(0, "127.0.0.1", listening);
}

/**
 * An event stream like an LLM API's: the head and the first event at once, then one event every
 * `gap` ms. Each event carries the wall-clock time it was written (ms since the epoch, to the
 * microsecond), so the client can tell how long it took to arrive.
 */
function sse(res, events, gap) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let sent = 0;
  const send = () => {
    res.write(`data: ${performance.timeOrigin + performance.now()}\n\n`);
    if (++sent === events) res.end();
    else setTimeout(send, gap);
  };
  send();
}

/**
 * With PROXY_TASKS=1: the longest single callback, three ways. In the process's CPU time
 * (process.cpuUsage): time the OS gave to other processes does not count, but a helper thread
 * busy beside the callback (V8's concurrent marker, its parallel scavenge) does, though it blocks
 * nothing. In wall-clock time: that counts the time the OS ran something else instead, or the
 * hypervisor took. And the lesser of the two, the callback's own time, which is what "blocking
 * the event loop" means: the main thread cannot have worked longer than either (it is one thread
 * of the process, and a thread works no longer than the time that passes). It counts the main
 * thread waiting on a helper thread that works meanwhile. For it to hold, the proxy must not wait
 * on the benchmark's own client and upstream: PROXY_REALTIME=1 (lib.mjs) runs it at real-time
 * priority. /proc's per-thread schedstat was no good for this: it only moves on scheduler ticks
 * (4 ms here), and node 20 has no per-thread CPU clock.
 */
/** The longest callbacks so far, and how many took over 5 ms: none yet. */
const NO_TASKS = {
  maxMs: 0,
  over5Ms: 0,
  maxWallMs: 0,
  wallOver5Ms: 0,
  maxOwnMs: 0,
  ownOver5Ms: 0,
};

function watchTasks() {
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const started = new Map();
  const tasks = { ...NO_TASKS };
  createHook({
    before: (id) => started.set(id, [cpuMs(), performance.now()]),
    after: (id) => {
      const [cpuStart, wallStart] = started.get(id) ?? [Infinity, Infinity];
      const ms = cpuMs() - cpuStart;
      const wallMs = performance.now() - wallStart;
      started.delete(id);
      const ownMs = Math.min(ms, wallMs);
      if (ms > 5) tasks.over5Ms++;
      if (wallMs > 5) tasks.wallOver5Ms++;
      if (ownMs > 5) tasks.ownOver5Ms++;
      tasks.maxMs = Math.max(tasks.maxMs, ms);
      tasks.maxWallMs = Math.max(tasks.maxWallMs, wallMs);
      tasks.maxOwnMs = Math.max(tasks.maxOwnMs, ownMs);
    },
  }).enable();
  return tasks;
}

async function proxy(config) {
  const importStart = performance.now();
  const { startProxy } = await import(BUNDLE);
  const importMs = performance.now() - importStart;
  const dir = mkdtempSync(join(tmpdir(), "jailed-bench-"));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const start = performance.now();
  const running = await startProxy({
    socketPath: join(dir, "proxy.sock"),
    auditPath: join(dir, "audit.jsonl"),
    token: TOKEN,
    ...config,
  });
  const startMs = performance.now() - start;
  delay.enable();
  const tasks = process.env.PROXY_TASKS === "1" ? watchTasks() : null;
  let cpu = process.cpuUsage();
  process.on("message", (message) => {
    if (message.type === "stats") {
      // With --expose-gc: collect first, so RSS shows what is still referenced.
      globalThis.gc?.();
      const used = process.cpuUsage(cpu);
      process.send({
        cpuMs: (used.user + used.system) / 1000,
        memory: Object.fromEntries(
          Object.entries(process.memoryUsage()).map(([k, v]) => [k, +(v / 2 ** 20).toFixed(1)]),
        ),
        loopMaxMs: delay.max / 1e6,
        loopP99Ms: delay.percentile(99) / 1e6,
        tasks: tasks && { ...tasks },
      });
    }
    if (message.type === "reset") {
      delay.reset();
      if (tasks) Object.assign(tasks, NO_TASKS);
      cpu = process.cpuUsage();
      process.send({});
    }
  });
  shutdown = async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  };
  process.send({
    socketPath: join(dir, "proxy.sock"),
    caPem: running.caCertPem,
    importMs,
    startMs,
  });
}

process.on("message", (message) => {
  if (message.type === "exit") shutdown().then(() => process.exit(0));
});
const roles = { upstream, proxy, relay };
process.once("message", (message) => roles[role](message.config));
process.send({ type: "ready" });
