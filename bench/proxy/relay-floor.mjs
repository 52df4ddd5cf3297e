// The floor under throughput.mjs's decrypted download: a bare Node TLS relay, with no HTTP, no
// policy and no bridge (TLS in, TLS out to the upstream, bytes piped both ways, 1 MB buffers as
// the proxy's), listening on loopback TCP and on a unix socket like the proxy's. Its CPU per MiB
// beside the proxy's tells what the proxy's HTTP layer costs; its two transports, what the unix
// socket does. Usage: node bench/proxy/relay-floor.mjs [MiB per download, default 256] [runs, default 5]
import { rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, fetchLength, fmt, spawnRole, summary } from "./lib.mjs";

const mib = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 5);
const bytes = mib * 2 ** 20;
await bundle();
const upstream = await spawnRole("upstream");
const socketPath = join(tmpdir(), `jailed-relay-floor-${process.pid}.sock`);
process.on("exit", () => rmSync(socketPath, { force: true }));
const startRelay = (onSocket) =>
  spawnRole("relay", {
    upstreamPort: upstream.port,
    upstreamCaPem: upstream.caPem,
    socketPath: onSocket ? socketPath : null,
  });
const overTcp = await startRelay(false);
const overSocket = await startRelay(true);
const modes = {
  direct: { options: { port: upstream.port }, ca: upstream.caPem, relay: null },
  "relay-tcp": { options: { port: overTcp.port }, ca: overTcp.caPem, relay: overTcp },
  "relay-socket": { options: { socketPath }, ca: overSocket.caPem, relay: overSocket },
};
for (const mode of Object.values(modes)) {
  mode.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: mode.ca });
  mode.rates = [];
  mode.cpuMs = 0;
}
const get = (mode, n) =>
  fetchLength({
    host: "127.0.0.1",
    servername: "relay.test",
    ...mode.options,
    agent: mode.agent,
    path: `/bytes?n=${n}`,
  });
for (const mode of Object.values(modes)) await get(mode, 8 * 2 ** 20); // warm up
// Interleaved, so that the machine's other work spreads over the modes alike.
for (let i = 0; i < runs; i++) {
  for (const mode of Object.values(modes)) {
    await mode.relay?.ask("reset");
    const start = performance.now();
    const length = await get(mode, bytes);
    if (length !== bytes) throw new Error(`got ${length} bytes`);
    mode.rates.push(mib / ((performance.now() - start) / 1000));
    if (mode.relay) mode.cpuMs += (await mode.relay.ask("stats")).cpuMs;
  }
}
const direct = summary(modes.direct.rates).median;
console.log(`HTTPS download, ${mib} MiB x ${runs} runs, MiB/s (median [min..max])`);
for (const [name, mode] of Object.entries(modes)) {
  const s = summary(mode.rates);
  const relayed = mode.relay
    ? `  = ${fmt((100 * s.median) / direct, 0)}% of direct  (relay CPU ${fmt(mode.cpuMs / (mib * runs), 2)} ms/MiB)`
    : "";
  console.log(
    `  ${name.padEnd(12)} ${fmt(s.median, 0)} [${fmt(s.p10, 0)}..${fmt(s.max, 0)}]${relayed}`,
  );
  mode.agent.destroy();
}
await overTcp.stop();
await overSocket.stop();
await upstream.stop();
