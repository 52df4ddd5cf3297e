// The run's proxy as runLinuxJail drives it (runtime/network.ts): real socket, real proxy, no jail.
// setTimeout is faked so that the serve delay passes only when a test says so.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test, vi } from "vitest";
import {
  makeNetworkPaths,
  type NetworkPaths,
  type RunNetwork,
  startRunNetwork,
} from "../../src/runtime/network.js";
import { sampleJailConfig } from "../support/jail-config.js";
import { deniedRequest, TOKEN } from "./helpers.js";

let dir: string;
let runs = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jailed-run-network-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout"] });
  vi.stubEnv("XDG_STATE_HOME", join(dir, "state"));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

async function start(): Promise<{ network: RunNetwork; paths: NetworkPaths }> {
  const runDir = join(dir, `run-${runs++}`);
  await mkdir(runDir);
  const paths = makeNetworkPaths(runDir, join(runDir, "ca-bundle.crt"));
  const config = sampleJailConfig({ network: { mode: "proxy", rules: [], policyFile: null } });
  const credentials = { resolved: [], env: {}, files: [] };
  return { network: await startRunNetwork(config, paths, dir, TOKEN, credentials), paths };
}

/** Whether `promise` has settled after the event loop's pending I/O has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

test("the run's CA is appended to the jail's trust bundle before the proxy is handed back", async () => {
  const { network, paths } = await start();
  expect(readFileSync(paths.caBundle, "utf8")).toMatch(/^\n-----BEGIN CERTIFICATE-----\n/);
  await network.close();
});

test("the jail's first connection starts the serving at once, without the delay", async () => {
  const { network, paths } = await start();
  const serving = network.serve();
  // The delay's timer is never advanced: only the connection can start the serving.
  expect(await deniedRequest(paths.socketPath)).toMatch(/^HTTP\/1\.1 403 /);
  await serving;
  await network.close();
}, 10_000);

test("without a connection, the serving starts when the delay has passed, not before", async () => {
  const { network, paths } = await start();
  const serving = network.serve();
  await vi.advanceTimersByTimeAsync(49);
  expect(await settled(serving)).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  await serving;
  expect(await deniedRequest(paths.socketPath)).toMatch(/^HTTP\/1\.1 403 /);
  await network.close();
});

test("a run closed before the delay never serves, and its socket is gone", async () => {
  const { network, paths } = await start();
  const serving = network.serve();
  await network.close();
  await vi.advanceTimersByTimeAsync(50);
  await serving;
  expect(existsSync(paths.socketPath)).toBe(false);
  // A proxy that serves schedules its warm-up (serve.ts): nothing is left to run.
  expect(vi.getTimerCount()).toBe(0);
});
