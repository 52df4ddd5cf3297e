import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { PolicyError, startProxy } from "../../src/proxy/index.js";
import { TOKEN } from "./helpers.js";

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
