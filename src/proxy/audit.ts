import { once } from "node:events";
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
  /** Queues a line; never blocks the event loop. */
  write(entry: AuditEntry): void;
  /** Flushes and closes; later writes are dropped. */
  close(): Promise<void>;
}

export function auditLine(entry: AuditEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

/**
 * Opens (appends to, creates 0600) the audit log; throws when it cannot be opened. The open is
 * synchronous and the stream is made on the first line: an asynchronous open would start libuv's
 * thread pool and wait a turn of the event loop, ~2.5 ms of a proxied run's start.
 */
export function openAuditLog(path: string): AuditLog {
  const fd = openSync(path, "a", 0o600);
  let stream: WriteStream | null = null;
  let closed = false;
  const streamed = (): WriteStream => {
    stream ??= createWriteStream(path, { fd }).on("error", (error) => {
      // Losing the log must not take the run down; say so once and stop writing.
      closed = true;
      process.stderr.write(`jailed: audit log ${path} failed: ${error.message}\n`);
    });
    return stream;
  };
  return {
    write(entry) {
      if (!closed) streamed().write(auditLine(entry));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (stream === null) {
        closeSync(fd);
        return;
      }
      stream.end();
      await once(stream, "close");
    },
  };
}
