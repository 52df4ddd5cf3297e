// Anthropic's sandbox-runtime (srt) beside jailed's proxy, in the same benchmark run: a client in
// srt's sandbox (srt-client.mjs) reaches the benchmark's upstream through srt's own proxy and
// socat bridge, decrypting (`network.tlsTerminate`, as `srt-inspect`) or tunnelling
// (`srt-passthrough`). SRT names srt's CLI: bench/proxy/run.sh installs it and sets it
// (bench/srt.sh). Without it the srt modes are left out.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), "srt-client.mjs");

/** The srt modes a benchmark can run, by name (none without SRT), for an upstream of roles.mjs. */
export function srtModes(upstream) {
  const srt = process.env.SRT;
  if (!srt) {
    console.log("srt: not measured (bash bench/proxy/run.sh installs it and sets SRT)");
    return {};
  }
  const dir = mkdtempSync(join(tmpdir(), "jailed-bench-srt-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, "upstream-ca.pem");
  writeFileSync(caFile, upstream.caPem);
  const settingsFile = (name, network) => {
    const file = join(dir, `${name}.json`);
    const settings = {
      network: { allowedDomains: ["localhost"], deniedDomains: [], ...network },
      filesystem: { denyRead: [], allowWrite: [dir], denyWrite: [] },
    };
    writeFileSync(file, JSON.stringify(settings));
    return file;
  };
  const mode =
    (settings, clientCa) =>
    (workload, ...amounts) =>
      runClient(srt, settings, [upstream.port, clientCa, workload, ...amounts], caFile);
  return {
    // srt's proxy verifies the upstream against Node's store, NODE_EXTRA_CA_CERTS included; its
    // client, against srt's trust bundle (srt's CA and the extra CA).
    "srt-inspect": mode(
      settingsFile("inspect", { tlsTerminate: { extraCaCertPaths: [caFile] } }),
      "-",
    ),
    "srt-passthrough": mode(settingsFile("passthrough", {}), caFile),
  };
}

/** Runs srt-client.mjs in srt's sandbox and returns what it printed, parsed. */
async function runClient(srt, settings, args, caFile) {
  const command = [process.execPath, CLIENT, ...args].join(" ");
  const child = spawn(srt, ["--settings", settings, "-c", command], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const [code] = await once(child, "exit");
  if (code !== 0) throw new Error(`srt -c ${command} exited ${code}:\n${stderr}`);
  return JSON.parse(stdout);
}
