import { closeSync, createWriteStream, openSync, type WriteStream } from "node:fs";

/** One decision of the proxy, one JSON line in the run's audit log. */
export interface AuditEntry {
  /** When the request arrived (ISO 8601). */
  time: string;
  method: string;
  /** `scheme://authority/path?query`, or `host:port` for a CONNECT tunnel. */
  url: string;
  decision: "allow" | "deny";
  /** Index of the deciding rule; null when no rule matched. */
  rule: number | null;
  /** Why it was denied (the `x-jailed-denied` value); null when allowed. */
  reason: string | null;
  /** Status sent to the client (200 for an established tunnel). */
  status: number;
  /** Body bytes from the client (tunnels: all bytes) and to the client. */
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** Credentials whose real value the request carried upstream, by name; absent when none. */
  credentials?: string[];
  /** Credentials whose dummy went to a host not theirs (forwarded as the dummy); absent when none. */
  dummySentTo?: string[];
}

export interface AuditLog {
  /** Queues a line, written with the others of its BATCH_MS; never blocks the event loop. */
  write(entry: AuditEntry): void;
  /** Flushes and closes; later writes are dropped. */
  close(): Promise<void>;
}

export function auditLine(entry: AuditEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

/**
 * How long a line waits for the lines after it, to be written with them. Each write goes through
 * libuv's thread pool and wakes one of its threads: ~30 µs of the proxy's main thread a write in a
 * profile of keep-alive requests, and a core's time slice given away on a 2-core machine. A reader
 * following the log sees each line within this long; close() writes what waits.
 */
const BATCH_MS = 100;

/**
 * Opens (appends to, creates 0600) the audit log; throws when it cannot be opened. The open is
 * synchronous and the stream is made on the first batch: an asynchronous open would start libuv's
 * thread pool and wait a turn of the event loop, ~2.5 ms of a proxied run's start.
 */
export function openAuditLog(path: string): AuditLog {
  const fd = openSync(path, "a", 0o600);
  let stream: WriteStream | null = null;
  let failed = false;
  let closed = false;
  let batch = "";
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    timer = null;
    if (failed) return;
    stream ??= createWriteStream(path, { fd }).on("error", (error) => {
      // Losing the log must not take the run down; say so once and stop writing.
      failed = true;
      process.stderr.write(`jailed: audit log ${path} failed: ${error.message}\n`);
    });
    stream.write(batch);
    batch = "";
  };
  return {
    write(entry) {
      if (closed || failed) return;
      batch += auditLine(entry);
      // Unreferenced: a run whose jail has exited closes the log rather than wait for it.
      timer ??= setTimeout(flush, BATCH_MS).unref();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== null) {
        clearTimeout(timer);
        flush();
      }
      // A stream that failed has closed itself, and the file with it.
      if (failed) return;
      if (stream === null) {
        closeSync(fd);
        return;
      }
      const closing = stream;
      // Not events.once: an error while it closes is reported above, not thrown at the caller.
      await new Promise<void>((resolve) => closing.end().once("close", () => resolve()));
    },
  };
}
