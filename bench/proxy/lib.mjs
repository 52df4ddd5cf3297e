// Shared by the proxy benchmarks: bundling, the proxy and upstream child processes, clients.
import { execFileSync, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, rmSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// One bundle per benchmark run (its role processes inherit the path): runs at the same time, of
// different checkouts or by different people on one machine, must not load each other's bundle.
export const BUNDLE =
  process.env.JAILED_PROXY_BENCH_BUNDLE ?? join(tmpdir(), `jailed-proxy-bench-${process.pid}.mjs`);
process.env.JAILED_PROXY_BENCH_BUNDLE = BUNDLE;
export const TOKEN = "bench-token-0123456789abcdef";

/** Bundles src/proxy the way the runtime bundle does; returns its path. */
export async function bundle() {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [join(here, "entry.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: BUNDLE,
    logLevel: "warning",
  });
  process.on("exit", () => rmSync(BUNDLE, { force: true }));
  return BUNDLE;
}

/**
 * Starts a role of roles.mjs in its own process (the proxy and the upstream each get one).
 * PROXY_NODE_OPTIONS (space-separated) are node flags for the proxy's process only. PROXY_REALTIME=1
 * runs the proxy, all its threads, at real-time priority (SCHED_FIFO; needs root): the benchmark's
 * client and upstream, busy on the same two cores, then never take its CPU, so a callback's
 * wall-clock time is its own (roles.mjs, watchTasks).
 */
export async function spawnRole(role, config = {}) {
  const flags =
    role === "proxy" ? (process.env.PROXY_NODE_OPTIONS ?? "").split(" ").filter(Boolean) : [];
  const child = fork(join(here, "roles.mjs"), [role], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: flags,
  });
  if (role === "proxy" && process.env.PROXY_REALTIME === "1") {
    try {
      execFileSync("chrt", ["--all-tasks", "--fifo", "--pid", "10", String(child.pid)]);
    } catch (error) {
      child.kill();
      throw new Error(`PROXY_REALTIME=1: chrt --fifo failed (it needs root): ${error.message}`);
    }
  }
  // A benchmark that fails must not leave a busy process behind to skew the next one.
  process.on("exit", () => child.kill());
  // A child that dies (a bad flag in PROXY_NODE_OPTIONS, say) must stop the benchmark, not hang it.
  const exited = once(child, "exit").then(([code, signal]) => {
    throw new Error(`bench ${role} exited (${signal ?? code}) before it was ready`);
  });
  // The child says when it listens: a message sent before that would be lost.
  await Promise.race([once(child, "message"), exited]);
  child.send({ type: "start", config });
  const [message] = await Promise.race([once(child, "message"), exited]);
  exited.catch(() => {});
  const ask = async (type) => {
    child.send({ type });
    const [answer] = await once(child, "message");
    return answer;
  };
  const stop = async () => {
    child.send({ type: "exit" });
    await once(child, "exit");
  };
  return { ...message, ask, stop };
}

/**
 * An https.Agent whose connections are CONNECT tunnels through the proxy: `via` is its unix
 * socket's path, or `{ host, port }` of a bridge to it (`startBridge`). `credential` is the
 * proxy's user and password: the run's token for jailed's proxy.
 */
export function tunnelAgent(via, options, credential = `jailed:${TOKEN}`) {
  const auth = `Basic ${Buffer.from(credential).toString("base64")}`;
  const agent = new https.Agent(options);
  agent.createConnection = (connectOptions, done) => {
    const socket = net.connect(via);
    socket.write(
      `CONNECT ${connectOptions.host}:${connectOptions.port} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
    );
    let head = "";
    const onData = (chunk) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      socket.pause();
      if (!head.startsWith("HTTP/1.1 200")) return done(new Error(head.split("\r\n")[0]));
      done(null, tls.connect({ ...connectOptions, socket }));
    };
    socket.on("data", onData);
    socket.on("error", done);
  };
  return agent;
}

/**
 * The bridge a jail runs to the proxy (socat with the jail's own arguments), here on a free port
 * of the host's loopback: what a jailed client's bytes go through. Needs socat on PATH.
 */
export async function startBridge(socketPath) {
  const { bridgeArgs } = await import(BUNDLE);
  const probe = net.createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  probe.close();
  const socat = spawn("socat", bridgeArgs(socketPath, port), { stdio: "inherit" });
  process.on("exit", () => socat.kill());
  const address = { host: "127.0.0.1", port };
  for (let tries = 0; ; tries++) {
    const connected = await new Promise((resolve) => {
      const connection = net.connect(address, () => resolve(true));
      connection.on("error", () => resolve(false));
      connection.on("connect", () => connection.destroy());
    });
    if (connected) break;
    if (tries === 100) throw new Error("the bridge did not start: is socat installed?");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const stop = async () => {
    socat.kill();
    await once(socat, "exit");
  };
  return { address, stop };
}

/**
 * An upstream and a decrypting proxy in front of it, with one keep-alive connection to the
 * upstream each way: `direct`, `inspect` (tunnelled through the proxy as inspect.test, over the
 * jail's bridge, as a jailed client is) and `inspect-socket` (straight to the proxy's socket).
 * `stop` ends all three processes.
 */
export async function directAndInspect() {
  await bundle();
  const upstream = await spawnRole("upstream");
  const proxy = await spawnRole("proxy", {
    rules: [{ action: "allow", host: "inspect.test" }],
    upstreams: { "inspect.test": { address: "127.0.0.1", port: upstream.port } },
    extraUpstreamCaPems: [upstream.caPem],
  });
  const bridge = await startBridge(proxy.socketPath);
  const inspect = { host: "inspect.test", port: 443 };
  const through = (via) => ({
    agent: tunnelAgent(via, { keepAlive: true, maxSockets: 1, ca: proxy.caPem }),
    options: inspect,
  });
  const modes = {
    direct: {
      agent: new https.Agent({ keepAlive: true, maxSockets: 1, ca: upstream.caPem }),
      options: { host: "127.0.0.1", port: upstream.port, servername: "direct.test" },
    },
    inspect: through(bridge.address),
    "inspect-socket": through(proxy.socketPath),
  };
  const stop = async () => {
    for (const { agent } of Object.values(modes)) agent.destroy();
    await bridge.stop();
    await proxy.stop();
    await upstream.stop();
  };
  return { upstream, proxy, modes, stop };
}

/** Resolves with the response body length after reading it all. */
export function fetchLength(options) {
  return new Promise((resolve, reject) => {
    const req = https.request(options, (res) => {
      let length = 0;
      res.on("data", (chunk) => {
        length += chunk.length;
      });
      res.on("end", () => resolve(length));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * One stream of the upstream's `/sse` (`events` events, `gapMs` apart) over `agent`: ms from sending
 * the request to the first event, and how late each event arrived after the upstream wrote it, ms.
 */
export function sseStream({ agent, options }, events, gapMs) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let firstMs;
    const delays = [];
    let text = "";
    const req = https.request(
      { ...options, agent, path: `/sse?events=${events}&gap=${gapMs}` },
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

export function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The median of sorted values; of an even number, the mean of the middle two. */
function middle(sorted) {
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}

export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: middle(sorted),
    min: sorted[0],
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1],
  };
}

/** Each mode's figure less direct's, by mode, from summaries by mode name (direct's among them). */
export function addedToDirect(summaries, figure = (s) => s.median) {
  const direct = figure(summaries.direct);
  return Object.fromEntries(
    Object.entries(summaries)
      .filter(([name]) => name !== "direct")
      .map(([name, s]) => [name, figure(s) - direct]),
  );
}

export const fmt = (x, digits = 3) => Number(x).toFixed(digits);

/**
 * Keeps a benchmark's figures for report.mjs: with BENCH_JSON set (run.sh sets it), appends them to
 * that file as one JSON line.
 */
export function record(bench, figures) {
  const file = process.env.BENCH_JSON;
  if (file) appendFileSync(file, `${JSON.stringify({ bench, ...figures })}\n`);
}

/** The proxy's event loop: delay as monitorEventLoopDelay saw it, and with PROXY_TASKS=1 the
 * longest callback (roles.mjs, watchTasks). */
export function loopReport(stats) {
  const delay = `event loop delay max ${fmt(stats.loopMaxMs, 1)} ms, p99 ${fmt(stats.loopP99Ms, 1)} ms`;
  if (!stats.tasks) return delay;
  const { tasks } = stats;
  return (
    `${delay}; longest callback ${fmt(tasks.maxOwnMs, 1)} ms its own, ${tasks.ownOver5Ms} over 5 ms ` +
    `(${fmt(tasks.maxMs, 1)} ms CPU, ${tasks.over5Ms} over 5 ms; ${fmt(tasks.maxWallMs, 1)} ms wall, ${tasks.wallOver5Ms} over 5 ms)`
  );
}
