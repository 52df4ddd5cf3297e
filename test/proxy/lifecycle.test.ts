import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { PolicyError, prepareProxy, startProxy } from "../../src/proxy/index.js";
import { deniedRequest, TOKEN } from "./helpers.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jailed-life-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const options = (name: string) => ({
  socketPath: join(dir, `${name}.sock`),
  auditPath: join(dir, `${name}.jsonl`),
  token: TOKEN,
  rules: [],
});

test("close() stops listening and removes the socket", async () => {
  const proxy = await startProxy(options("a"));
  expect(existsSync(join(dir, "a.sock"))).toBe(true);
  expect(proxy.caCertPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  await proxy.close();
  expect(existsSync(join(dir, "a.sock"))).toBe(false);
});

test("the running proxy hands out the CA certificate and nothing of its key", async () => {
  const proxy = await startProxy(options("e"));
  expect(Object.keys(proxy).sort()).toEqual(["caCertPem", "close"]);
  expect(proxy.caCertPem).not.toMatch(/PRIVATE KEY/);
  await proxy.close();
});

test("a bad rule stops the start with the rule's index", async () => {
  await expect(
    startProxy({
      ...options("b"),
      rules: [
        { action: "allow", host: "ok.test" },
        { action: "allow", host: "/(/" },
      ],
    }),
  ).rejects.toThrow(PolicyError);
  expect(existsSync(join(dir, "b.sock"))).toBe(false);
});

test("an extra upstream CA that is not a certificate stops the start", async () => {
  await expect(
    startProxy({ ...options("f"), extraUpstreamCaPems: ["not a certificate"] }),
  ).rejects.toThrow(/extraUpstreamCaPems\[0\] is not a PEM certificate/);
});

test("an audit log that cannot be opened stops the start", async () => {
  await expect(
    startProxy({ ...options("c"), auditPath: join(dir, "missing", "audit.jsonl") }),
  ).rejects.toThrow(/ENOENT/);
  expect(existsSync(join(dir, "c.sock"))).toBe(false);
});

test("a socket path in use stops the start", async () => {
  const first = await startProxy(options("d"));
  await expect(startProxy({ ...options("d"), auditPath: join(dir, "d2.jsonl") })).rejects.toThrow(
    /EADDRINUSE/,
  );
  await first.close();
});

test("a connection made before serve() waits, unanswered, and is answered once the proxy serves", async () => {
  const prepared = await prepareProxy(options("g"));
  const answer = deniedRequest(join(dir, "g.sock"));
  const early = await Promise.race([
    answer,
    new Promise((resolve) => setTimeout(() => resolve("nothing yet"), 100)),
  ]);
  expect(early).toBe("nothing yet");
  expect(readFileSync(join(dir, "g.jsonl"), "utf8")).toBe("");
  const proxy = await prepared.serve();
  expect(await answer).toMatch(/^HTTP\/1\.1 403 /);
  await proxy.close();
  expect(readFileSync(join(dir, "g.jsonl"), "utf8")).toContain('"url":"http://denied.test/"');
});

test("close() before serve() drops the waiting connections and removes the socket", async () => {
  const prepared = await prepareProxy(options("h"));
  const answer = deniedRequest(join(dir, "h.sock"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await prepared.close();
  expect(await answer).toBe("");
  expect(existsSync(join(dir, "h.sock"))).toBe(false);
  expect(readFileSync(join(dir, "h.jsonl"), "utf8")).toBe("");
});

/**
 * In a process of its own, as the V8 flag is process-wide: V8's young generation (MiB) before and after
 * an allocation churn that keeps ~200,000 objects alive at a time, with or without a proxy serving.
 */
function youngGenerationAroundChurn(serving: boolean): { before: number; after: number } {
  const script = `
    const { getHeapSpaceStatistics } = await import("node:v8");
    const young = () => getHeapSpaceStatistics().find((space) => space.space_name === "new_space").space_size / 2 ** 20;
    let proxy = null;
    if (${serving}) {
      const { startProxy } = await import("./src/proxy/index.ts");
      const dir = ${JSON.stringify(dir)};
      proxy = await startProxy({ socketPath: dir + "/churn.sock", auditPath: dir + "/churn.jsonl", token: "t", rules: [] });
    }
    const before = young();
    const ring = new Array(200000);
    for (let i = 0; i < 5e6; i++) ring[i % ring.length] = { i, list: [i] };
    console.log(JSON.stringify({ before, after: young() }));
    await proxy?.close();
  `;
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout);
}

test("a serving proxy keeps V8's young generation from growing", () => {
  // Control: without the proxy the same churn grows it to V8's cap.
  const alone = youngGenerationAroundChurn(false);
  expect(alone.after).toBeGreaterThanOrEqual(alone.before * 2);
  const serving = youngGenerationAroundChurn(true);
  expect(serving.after).toBe(serving.before);
});
