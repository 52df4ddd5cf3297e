// What injection and scrubbing cost on a big streamed body: HTTPS download through the decrypting
// proxy, once through a proxy that holds no credential and once through one whose credential is
// injected into the request (its host is the upstream) and whose scrubber reads every byte of the
// answer. The body is event-stream text, as model APIs send, with near misses of the secret in it
// (its prefix, its first half), so the scrubber works as it would on a real answer. Upstream, both
// proxies and this client are separate processes; runs alternate between the two proxies.
// Usage: node bench/proxy/credentials.mjs [MiB per download, default 100] [runs, default 7]
import { fork } from "node:child_process";
import { once } from "node:events";
import https from "node:https";
import { fileURLToPath } from "node:url";
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

const REAL = `sk-ant-api03-${"R3alSecretKey_x".repeat(6)}AA`;
const DUMMY = `sk-ant-api03-${"DummyKeyDummy_y".repeat(6)}BB`;

/** 64 KiB of server-sent events: text deltas, every tenth with a near miss of the secret. */
function eventBlock() {
  const events = [];
  for (let i = 0, size = 0; size < 64 * 1024; i++) {
    const text =
      i % 10 === 0 ? `see ${REAL.slice(0, 13 + (i % 40))} and sk-ant-` : `word ${i} of the answer `;
    const event = `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}\n\n`;
    events.push(event);
    size += event.length;
  }
  return Buffer.from(events.join("").slice(0, 64 * 1024));
}

/** This file forked as the upstream: an HTTPS server streaming `n` bytes of events at /events?n=. */
async function upstream() {
  const { createCertificateAuthority } = await import(BUNDLE);
  const ca = createCertificateAuthority();
  const block = eventBlock();
  const server = https.createServer(
    { SNICallback: (name, done) => done(null, ca.contextFor(name)) },
    (req, res) => {
      let left = Number(new URL(req.url, "https://x").searchParams.get("n"));
      res.writeHead(200, { "content-type": "text/event-stream", "content-length": left });
      const pump = () => {
        while (left > 0) {
          const chunk = left >= block.length ? block : block.subarray(0, left);
          left -= chunk.length;
          if (!res.write(chunk)) return res.once("drain", pump);
        }
        res.end();
      };
      pump();
    },
  );
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () =>
    process.send({ port: server.address().port, caPem: ca.certPem }),
  );
  process.on("message", () => server.close(() => process.exit(0)));
}

if (process.argv[2] === "upstream") {
  await upstream();
} else {
  const mib = Number(process.argv[2] ?? 100);
  const runs = Number(process.argv[3] ?? 7);
  const bytes = mib * 2 ** 20;

  await bundle();
  const upstreamChild = fork(fileURLToPath(import.meta.url), ["upstream"]);
  const [upstreamInfo] = await once(upstreamChild, "message");
  const map = { address: "127.0.0.1", port: upstreamInfo.port };
  const common = {
    rules: [{ action: "allow", host: "api.test" }],
    upstreams: { "api.test": map },
    extraUpstreamCaPems: [upstreamInfo.caPem],
  };
  const proxies = {
    "no credential": await spawnRole("proxy", common),
    credential: await spawnRole("proxy", {
      ...common,
      credentials: [{ name: "bench", hosts: ["api.test"], real: REAL, dummy: DUMMY }],
    }),
  };
  const agents = Object.fromEntries(
    Object.entries(proxies).map(([name, proxy]) => [
      name,
      tunnelAgent(proxy.socketPath, { keepAlive: true, ca: proxy.caPem }),
    ]),
  );
  const request = (name, n) =>
    fetchLength({
      host: "api.test",
      port: 443,
      agent: agents[name],
      path: `/events?n=${n}`,
      headers: { "x-api-key": DUMMY },
    });

  for (const name of Object.keys(proxies)) await request(name, 8 * 2 ** 20); // warm up
  const rates = Object.fromEntries(Object.keys(proxies).map((name) => [name, []]));
  const cpu = Object.fromEntries(Object.keys(proxies).map((name) => [name, 0]));
  for (let i = 0; i < runs; i++) {
    for (const [name, proxy] of Object.entries(proxies)) {
      await proxy.ask("reset");
      const start = performance.now();
      const length = await request(name, bytes);
      if (length !== bytes) throw new Error(`${name}: got ${length} bytes`);
      rates[name].push(bytes / 2 ** 20 / ((performance.now() - start) / 1000));
      cpu[name] += (await proxy.ask("stats")).cpuMs;
    }
  }
  const stats = Object.fromEntries(
    await Promise.all(
      Object.entries(proxies).map(async ([name, p]) => [name, await p.ask("stats")]),
    ),
  );
  for (const agent of Object.values(agents)) agent.destroy();
  for (const proxy of Object.values(proxies)) await proxy.stop();
  upstreamChild.send("exit");

  const plain = summary(rates["no credential"]);
  console.log(
    `HTTPS event stream through the decrypting proxy, ${mib} MiB x ${runs} runs, MiB/s (median [p10..max])`,
  );
  for (const [name, values] of Object.entries(rates)) {
    const s = summary(values);
    const change =
      name === "no credential"
        ? ""
        : `  = ${fmt((100 * (s.median - plain.median)) / plain.median, 1)}% vs no credential`;
    console.log(
      `  ${name.padEnd(14)} ${fmt(s.median, 0)} [${fmt(s.p10, 0)}..${fmt(s.max, 0)}]${change}  (proxy CPU ${fmt(cpu[name] / (mib * runs), 2)} ms/MiB)`,
    );
  }
  for (const [name, s] of Object.entries(stats)) console.log(`  ${name}: ${loopReport(s)}`);
  const injected = Object.keys(rates).find((name) => name !== "no credential");
  record("credentials", {
    changePercent: (100 * (summary(rates[injected]).median - plain.median)) / plain.median,
  });
}
