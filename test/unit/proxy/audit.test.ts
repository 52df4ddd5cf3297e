import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test, vi } from "vitest";
import { type AuditEntry, auditLine, openAuditLog } from "../../../src/proxy/audit.js";

const dir = mkdtempSync(join(tmpdir(), "jailed-audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (url: string): AuditEntry => ({
  time: "2026-01-01T00:00:00.000Z",
  method: "GET",
  url,
  decision: "allow",
  rule: 0,
  reason: null,
  status: 200,
  bytesUp: 0,
  bytesDown: 5,
  durationMs: 1.5,
});

/** How long a test waits for the log's timer: well past BATCH_MS, looking every 20 ms. */
const POLL = { timeout: 5000, interval: 20 };

const lines = (path: string): string[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line).url);

test("auditLine is one JSON line", () => {
  const one = entry("https://a.test/");
  expect(auditLine(one)).toBe(`${JSON.stringify(one)}\n`);
  expect(JSON.parse(auditLine(one))).toEqual(one);
});

test("lines wait to be written together; close writes them in order, and drops later ones", async () => {
  const path = join(dir, "close.jsonl");
  const log = openAuditLog(path);
  log.write(entry("https://a.test/1"));
  log.write(entry("https://a.test/2"));
  expect(lines(path)).toEqual([]);
  await log.close();
  expect(lines(path)).toEqual(["https://a.test/1", "https://a.test/2"]);
  log.write(entry("https://a.test/3"));
  await log.close();
  expect(lines(path)).toEqual(["https://a.test/1", "https://a.test/2"]);
});

test("a batch reaches the file without close, and the next one after it", async () => {
  const path = join(dir, "timer.jsonl");
  const log = openAuditLog(path);
  const written = (count: number) =>
    vi.waitFor(() => expect(lines(path)).toHaveLength(count), POLL);
  log.write(entry("https://a.test/1"));
  await written(1);
  expect(lines(path)).toEqual(["https://a.test/1"]);
  log.write(entry("https://a.test/2"));
  await written(2);
  expect(lines(path)).toEqual(["https://a.test/1", "https://a.test/2"]);
  await log.close();
});

test("a log that fails to write says so once, drops the rest, and still closes", async () => {
  // /dev/full opens for appending, and every write to it fails with ENOSPC.
  const said = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    const log = openAuditLog("/dev/full");
    log.write(entry("https://a.test/1"));
    await vi.waitFor(() => expect(said).toHaveBeenCalled(), POLL);
    log.write(entry("https://a.test/2"));
    await log.close();
    expect(said.mock.calls.map(([text]) => text)).toEqual([
      expect.stringMatching(/^jailed: audit log \/dev\/full failed: ENOSPC/),
    ]);
  } finally {
    said.mockRestore();
  }
});
