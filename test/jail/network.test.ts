import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JailConfig } from "../../src/spec/jail-config.js";
import { startHttpsUpstream, startHttpUpstream, type Upstream } from "../proxy/helpers.js";
import { latestAuditEntries } from "../support/e2e.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox, spawnAs } from "../support/jail-run.js";
import { configFileOf, nixBuild, withJailedLib } from "../support/nix.js";

/** A jailed bash with curl, allowed a few test hosts; everything else is the default deny. */
const shellExpr = withJailedLib(`jailedLib.makeJailedAgent {
  name = "jailed-net-shell";
  pkg = pkgs.bash;
  command = "bash";
  extraPkgs = [ pkgs.curl ];
  network.allow = [ "allowed.test" "plain.test" "loop.test" "meta.test" ];
}`);

/** Larger than every buffer on the way (the bridge moves 1 MB a read), and not one byte repeated. */
const BIG_BODY = randomBytes(24 * 1024 * 1024);
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

let wrapper: string;
let https: Upstream;
let plain: Upstream;
let udpServer: ReturnType<typeof createSocket>;
let udpPort: number;
let udpReceived = 0;
const seenPaths: string[] = [];

beforeAll(async () => {
  wrapper = join(nixBuild(shellExpr), "bin", "jailed-net-shell");
  https = await startHttpsUpstream((req, res) => {
    seenPaths.push(`${req.headers.host}${req.url}`);
    if (req.url === "/big") return void res.end(BIG_BODY);
    if (req.url === "/upload") {
      const hash = createHash("sha256");
      req.on("data", (chunk: Buffer) => hash.update(chunk));
      req.on("end", () => res.end(`${hash.digest("hex")}\n`));
      return;
    }
    res.end(`hello from ${req.headers.host}\n`);
  });
  plain = await startHttpUpstream((req, res) => res.end(`plain ${req.headers.host}\n`));
  udpServer = createSocket("udp4").on("message", () => {
    udpReceived++;
  });
  udpServer.bind(0, "127.0.0.1");
  await once(udpServer, "listening");
  udpPort = udpServer.address().port;
});

afterAll(async () => {
  await https?.close();
  await plain?.close();
  udpServer?.close();
});

describe.each(RUNNERS)("the network of a jail run as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  const sh = (script: string) => runAsAsync(runner, sandbox, [wrapper, "-c", script], env);
  const curl = (args: string) => sh(`curl -sS --max-time 10 -w '\\n%{http_code}' ${args}`);

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    const caFile = join(sandbox.root, "upstream-ca.pem");
    writeFileSync(caFile, https.caPem);
    const upstream = { address: "127.0.0.1", port: https.port };
    env = {
      XDG_STATE_HOME: join(sandbox.root, "state"),
      JAILED_TEST_UPSTREAM_CA: caFile,
      JAILED_TEST_UPSTREAMS: JSON.stringify({
        "allowed.test": upstream,
        "denied.test": upstream,
        "allowed.test.evil.test": upstream,
        "evilallowed.test": upstream,
        "plain.test": { address: "127.0.0.1", port: plain.port },
      }),
      JAILED_TEST_RESOLVE: JSON.stringify({
        "loop.test": ["127.0.0.1"],
        "meta.test": ["169.254.169.254"],
      }),
    };
  });

  it("reaches an allowed host over HTTPS through the proxy, with the run's CA trusted", async () => {
    const result = await curl("https://allowed.test/hello");
    expect(result.stdout).toBe("hello from allowed.test\n\n200");
    expect(seenPaths).toContain("allowed.test/hello");
  });

  it("trusts nixpkgs' authorities and the run's CA, from one bundle", async () => {
    const config = JSON.parse(readFileSync(configFileOf(wrapper), "utf8")) as JailConfig;
    const nixpkgs = readFileSync(config.tools.caBundle);
    const bundle = "/etc/ssl/certs/ca-bundle.crt";
    const result = await sh(
      `head -c ${nixpkgs.length} ${bundle} | md5sum; tail -c +${nixpkgs.length + 1} ${bundle}`,
    );
    const [sum, ...added] = result.stdout.split("\n");
    expect(sum).toBe(`${createHash("md5").update(nixpkgs).digest("hex")}  -`);
    expect(added.filter((line) => line === "-----BEGIN CERTIFICATE-----")).toHaveLength(1);
  });

  it("keeps the caller's stdin for the agent behind the bridge", async () => {
    const result = await runAsAsync(
      runner,
      sandbox,
      [wrapper, "-c", 'read -r line; echo "got $line"'],
      env,
      "piped\n",
    );
    expect(result.stdout).toBe("got piped\n");
  });

  it("carries a download and an upload larger than the bridge's buffers whole", async () => {
    const down = await sh("curl -sS --max-time 30 https://allowed.test/big | sha256sum");
    expect(down.stdout).toBe(`${sha256(BIG_BODY)}  -\n`);
    // Random bytes made in the jail: the upstream's digest matches only if every byte came in order.
    const up = await sh(
      "head -c 25165824 /dev/urandom >/tmp/up && sha256sum </tmp/up && curl -sS --max-time 30 --data-binary @/tmp/up https://allowed.test/upload",
    );
    const [sent, received] = up.stdout.split("\n");
    expect(sent).toMatch(/^[0-9a-f]{64} {2}-$/);
    expect(received).toBe(sent?.slice(0, 64));
  });

  it("reaches an allowed host over plain HTTP", async () => {
    expect((await curl("http://plain.test/")).stdout).toBe("plain plain.test\n\n200");
  });

  it("gets 403 with the rule and the line that would allow it for a denied host", async () => {
    const result = await sh("curl -sS -i --max-time 10 http://denied.test/x");
    expect(result.stdout).toMatch(/^HTTP\/1\.1 403/);
    expect(result.stdout).toMatch(/x-jailed-denied: default-deny/i);
    expect(result.stdout).toContain("--allow-host denied.test");
    expect(result.stdout).toContain('network.allow = [ "denied.test" ];');
    const tunnel = await curl("https://denied.test/");
    expect(tunnel.stderr).toContain("403");
    expect(seenPaths.some((path) => path.startsWith("denied.test"))).toBe(false);
  });

  it("does not let look-alike names match allowed.test", async () => {
    for (const name of ["allowed.test.evil.test", "evilallowed.test"]) {
      const result = await sh(
        `curl -sS -o /dev/null -w '%{http_code}' --max-time 10 http://${name}/`,
      );
      expect(result.stdout).toBe("403");
    }
  });

  it("refuses a name that resolves to loopback or the metadata address", async () => {
    for (const name of ["loop.test", "meta.test"]) {
      const result = await sh(`curl -sS -i --max-time 10 http://${name}/latest/meta-data/`);
      expect(result.stdout).toMatch(/^HTTP\/1\.1 403/);
      expect(result.stdout).toMatch(/x-jailed-denied: refused-address/i);
    }
  });

  it("tells the terminal once per denied host, and logs every decision", async () => {
    const result = await sh(
      "for i in 1 2; do curl -s -o /dev/null http://denied.test/$i; done; curl -s -o /dev/null http://allowed.test/",
    );
    const notices = result.stderr.split("\n").filter((line) => line.startsWith("jailed:"));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain("denied.test");
    const entries = latestAuditEntries(sandbox);
    expect(entries.map((entry) => [entry.method, entry.url, entry.decision])).toEqual([
      ["GET", "http://denied.test/1", "deny"],
      ["GET", "http://denied.test/2", "deny"],
      ["GET", "http://allowed.test/", "allow"],
    ]);
  });

  it("cannot connect directly: host loopback, a public address, UDP, or DNS", async () => {
    // Controls: the host's loopback server and UDP listener are reachable from outside the jail.
    const outside = spawn("bash", [
      "-c",
      `exec 3<>/dev/tcp/127.0.0.1/${https.port} && echo tcp-ok; echo x >/dev/udp/127.0.0.1/${udpPort}`,
    ]);
    let outsideText = "";
    outside.stdout.on("data", (chunk) => {
      outsideText += chunk;
    });
    const before = udpReceived;
    await once(outside, "close");
    expect(outsideText).toBe("tcp-ok\n");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(udpReceived).toBe(before + 1);

    const result = await sh(`
      (exec 3<>/dev/tcp/127.0.0.1/${https.port}) 2>/dev/null && echo loopback-open
      (exec 3<>/dev/tcp/1.1.1.1/443) 2>/dev/null && echo public-open
      echo x >/dev/udp/127.0.0.1/${udpPort}
      curl -sS --noproxy '*' --max-time 5 https://example.com/ 2>&1 | head -c 200
      true`);
    expect(result.stdout).not.toContain("-open");
    expect(result.stdout).toContain("Could not resolve host: example.com");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(udpReceived).toBe(before + 1);
  });

  it("gives 407 to a process outside the jail that finds the socket without the run's credential", async () => {
    const child = spawnAs(runner, sandbox, [wrapper, "-c", "sleep 30"]);
    const runsDir = join(sandbox.runtimeDir, "jailed");
    let socketPath = "";
    for (let i = 0; i < 100 && socketPath === ""; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const run = readdirSync(runsDir)[0];
      const proxyDir = run === undefined ? "" : join(runsDir, run, "proxy");
      if (existsSync(proxyDir) && readdirSync(proxyDir).includes("proxy.sock")) {
        socketPath = join(proxyDir, "proxy.sock");
      }
    }
    expect(socketPath).not.toBe("");
    const response = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .request({ socketPath, path: "http://allowed.test/", headers: { host: "allowed.test" } })
        .on("response", resolve)
        .on("error", reject)
        .end(),
    );
    response.resume();
    expect(response.statusCode).toBe(407);
    expect(seenPaths).not.toContain("allowed.test/");
    child.kill("SIGTERM");
    await once(child, "exit");
  });
});
