// HTTPS download throughput on loopback: direct, through the decrypting proxy, through a
// passthrough tunnel. Upstream, proxy and this client are separate processes. The client reaches
// the proxy the way a jailed one does, through the jail's bridge (socat, with the jail's
// arguments), and, as `inspect-socket` and `passthrough-socket`, straight to its unix socket
// (the proxy alone). Beside them, in the same run, Anthropic's sandbox-runtime: a client in its
// sandbox through its proxy, decrypting (`srt-inspect`) and tunnelling (`srt-passthrough`; see
// srt.mjs). MODES=name,… runs only those beside direct.
// Usage: node bench/proxy/throughput.mjs [MiB per download, default 256] [runs, default 5]
import https from "node:https";
import {
  bundle,
  fetchLength,
  fmt,
  loopReport,
  record,
  spawnRole,
  startBridge,
  summary,
  tunnelAgent,
} from "./lib.mjs";
import { srtModes } from "./srt.mjs";

const mib = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 5);
const bytes = mib * 2 ** 20;

await bundle();
const upstream = await spawnRole("upstream");
const map = { address: "127.0.0.1", port: upstream.port };
const proxy = await spawnRole("proxy", {
  rules: [
    { action: "allow", host: "inspect.test" },
    { action: "allow", host: "pinned.test", tls: "passthrough" },
  ],
  upstreams: { "inspect.test": map, "pinned.test": map },
  extraUpstreamCaPems: [upstream.caPem],
});
const bridge = await startBridge(proxy.socketPath);

/** A mode that tunnels to `host` through `via` (the bridge or the socket), trusting `ca`. */
const tunnel = (via, host, ca) => ({
  agent: tunnelAgent(via, { keepAlive: true, ca }),
  options: { host, port: 443 },
});
const modes = {
  direct: {
    agent: new https.Agent({ keepAlive: true, ca: upstream.caPem }),
    options: { host: "127.0.0.1", port: upstream.port, servername: "direct.test" },
  },
  inspect: tunnel(bridge.address, "inspect.test", proxy.caPem),
  passthrough: tunnel(bridge.address, "pinned.test", upstream.caPem),
  "inspect-socket": tunnel(proxy.socketPath, "inspect.test", proxy.caPem),
  "passthrough-socket": tunnel(proxy.socketPath, "pinned.test", upstream.caPem),
};

// Runs are interleaved (direct, inspect, passthrough, direct, …) so that noise from other work on
// the machine spreads over all modes alike.
const only = process.env.MODES?.split(",");
const wanted = ([name]) => name === "direct" || !only || only.includes(name);
const chosen = Object.entries(modes).filter(wanted);
// srt's proxy and client are processes of srt's: only the upstream's CPU time is measured for them.
const srtChosen = Object.entries(srtModes(upstream)).filter(wanted);
const names = [...chosen, ...srtChosen].map(([name]) => name);
const rates = Object.fromEntries(names.map((name) => [name, []]));
const cpu = Object.fromEntries(chosen.map(([name]) => [name, 0]));
const clientCpuMs = Object.fromEntries(chosen.map(([name]) => [name, 0]));
const upstreamCpuMs = Object.fromEntries(names.map((name) => [name, 0]));
for (const [, { agent, options }] of chosen) {
  await fetchLength({ ...options, agent, path: `/bytes?n=${8 * 2 ** 20}` }); // warm up the connection
}
for (let i = 0; i < runs; i++) {
  for (const [name, { agent, options }] of chosen) {
    await proxy.ask("reset");
    await upstream.ask("reset");
    const clientCpu = process.cpuUsage();
    const start = performance.now();
    const length = await fetchLength({ ...options, agent, path: `/bytes?n=${bytes}` });
    if (length !== bytes) throw new Error(`${name}: got ${length} bytes`);
    rates[name].push(bytes / 2 ** 20 / ((performance.now() - start) / 1000));
    cpu[name] += (await proxy.ask("stats")).cpuMs;
    upstreamCpuMs[name] += (await upstream.ask("stats")).cpuMs;
    const used = process.cpuUsage(clientCpu);
    clientCpuMs[name] += (used.user + used.system) / 1000;
  }
  for (const [name, download] of srtChosen) {
    await upstream.ask("reset");
    rates[name].push(await download("download", bytes));
    upstreamCpuMs[name] += (await upstream.ask("stats")).cpuMs;
  }
}
for (const [, { agent }] of chosen) agent.destroy();
const perMiB = (ms) => (ms === undefined ? undefined : ms / (mib * runs));
const results = Object.fromEntries(
  names.map((name) => [
    name,
    {
      ...summary(rates[name]),
      proxyCpuMsPerMiB: perMiB(cpu[name]),
      clientCpuMsPerMiB: perMiB(clientCpuMs[name]),
      upstreamCpuMsPerMiB: perMiB(upstreamCpuMs[name]),
    },
  ]),
);
const stats = await proxy.ask("stats");
await bridge.stop();
await proxy.stop();
await upstream.stop();

console.log(`HTTPS download, ${mib} MiB x ${runs} runs, MiB/s (median [min..max])`);
for (const [name, s] of Object.entries(results)) {
  const ratio =
    name === "direct" ? "" : `  = ${fmt((100 * s.median) / results.direct.median, 0)}% of direct`;
  const cpu =
    s.proxyCpuMsPerMiB === undefined
      ? `CPU ms/MiB: upstream ${fmt(s.upstreamCpuMsPerMiB, 2)}`
      : `CPU ms/MiB: proxy ${fmt(s.proxyCpuMsPerMiB, 2)}, client ${fmt(s.clientCpuMsPerMiB, 2)}, upstream ${fmt(s.upstreamCpuMsPerMiB, 2)}`;
  console.log(
    `  ${name.padEnd(18)} ${fmt(s.median, 0)} [${fmt(s.min, 0)}..${fmt(s.max, 0)}]${ratio}  (${cpu})`,
  );
}
for (const kind of ["inspect", "passthrough"]) {
  const [ours, srt] = [results[kind], results[`srt-${kind}`]];
  if (ours && srt)
    console.log(`  ${kind}: jailed ${fmt(ours.median / srt.median, 2)}x srt's MiB/s`);
}
console.log(`proxy: ${loopReport(stats)}, rss ${fmt(stats.memory.rss, 0)} MiB`);
record("throughput", {
  mib,
  runs,
  medians: Object.fromEntries(names.map((name) => [name, results[name].median])),
});
