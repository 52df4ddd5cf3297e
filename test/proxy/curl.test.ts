// A real client: curl, through a TCP -> unix socket bridge (the jail's socat plays that part).
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  startHttpsUpstream,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
  TOKEN,
  type Upstream,
} from "./helpers.js";

let secure: Upstream;
let plain: Upstream;
let proxy: TestProxy;
let bridge: net.Server;
let proxyUrl: string;
let dir: string;
let caFile: string;

beforeAll(async () => {
  secure = await startHttpsUpstream((req, res) => res.end(`secure ${req.method} ${req.url}`));
  plain = await startHttpUpstream((req, res) => res.end(`plain ${req.url}`));
  proxy = await startTestProxy(
    [
      { action: "allow", host: "api.test" },
      { action: "allow", host: "plain.test" },
    ],
    {
      upstreams: {
        "api.test": { address: "127.0.0.1", port: secure.port },
        "plain.test": { address: "127.0.0.1", port: plain.port },
      },
      extraUpstreamCaPems: [secure.caPem],
    },
  );
  bridge = net.createServer((client) => {
    const upstream = net.connect(proxy.socketPath);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  bridge.listen(0, "127.0.0.1");
  await once(bridge, "listening");
  proxyUrl = `http://127.0.0.1:${(bridge.address() as net.AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), "jailed-curl-"));
  caFile = join(dir, "ca.pem");
  await writeFile(caFile, proxy.proxy.caCertPem);
});

afterAll(async () => {
  bridge.close();
  await proxy.finish();
  await secure.close();
  await plain.close();
  await rm(dir, { recursive: true, force: true });
});

function curl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      ["-sS", "--max-time", "20", "--proxy", proxyUrl, "--proxy-user", `jailed:${TOKEN}`, ...args],
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

test("curl trusts the run's CA and gets through to an allowed HTTPS host", async () => {
  const result = await curl(
    "--cacert",
    caFile,
    "-X",
    "POST",
    "--data",
    "x",
    "https://api.test/v1/things",
  );
  expect(result).toMatchObject({ code: 0, stdout: "secure POST /v1/things" });
});

test("curl trusting another CA refuses the proxy's certificate", async () => {
  const otherCa = join(dir, "other.pem");
  await writeFile(otherCa, secure.caPem);
  const result = await curl("--cacert", otherCa, "https://api.test/");
  expect(result.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
  expect(result.stdout).toBe("");
});

test("curl over plain HTTP", async () => {
  expect(await curl("http://plain.test/p")).toMatchObject({ code: 0, stdout: "plain /p" });
});

test("curl over plain HTTP in a CONNECT tunnel (--proxytunnel)", async () => {
  expect(await curl("--proxytunnel", "http://plain.test/tunneled")).toMatchObject({
    code: 0,
    stdout: "plain /tunneled",
  });
});

test("curl to a denied host gets the 403 on CONNECT", async () => {
  const result = await curl("--cacert", caFile, "https://evil.test/");
  expect(result.code).toBe(56);
  expect(result.stderr).toMatch(/CONNECT tunnel failed, response 403/);
});

test("curl without proxy credentials gets 407", async () => {
  const result = await new Promise<string>((resolve) =>
    execFile(
      "curl",
      ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", proxyUrl, "http://plain.test/"],
      (_e, out) => resolve(out),
    ),
  );
  expect(result).toBe("407");
});
