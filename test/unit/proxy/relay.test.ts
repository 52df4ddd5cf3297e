import type net from "node:net";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { relayDown, STREAM_BUFFER_BYTES } from "../../../src/proxy/exchange.js";

describe("relayDown, a passthrough tunnel's reads from upstream", () => {
  it("start at 64 KB and grow fourfold after each full read, up to 1 MB; a short read keeps the size", async () => {
    const client = new PassThrough();
    const received: Buffer[] = [];
    // A copy, as a socket's write hands the bytes to the kernel: the relay reuses its buffer.
    client.on("data", (chunk: Buffer) => received.push(Buffer.from(chunk)));
    const traffic = { bytesUp: 0, bytesDown: 0 };
    // The relay resumes its upstream once the client has taken a write: only then does Node read again.
    let resumed = (): void => {};
    const upstream = { resume: () => resumed() } as unknown as net.Socket;
    const onread = relayDown(client, traffic, () => upstream);
    const next = onread.buffer as () => Buffer;
    const sizes: number[] = [];
    let expected = Buffer.alloc(0);
    // A full read, then another, a short one, and three more full ones, as Node calls them.
    for (const fill of [1, 1, 0.5, 1, 1, 1]) {
      const buffer = next();
      sizes.push(buffer.length);
      const length = Math.floor(buffer.length * fill);
      buffer.fill(sizes.length, 0, length);
      expected = Buffer.concat([expected, buffer.subarray(0, length)]);
      const written = new Promise<void>((resolve) => {
        resumed = resolve;
      });
      expect(onread.callback(length, buffer)).toBe(false);
      await written;
    }
    expect(sizes).toEqual([65536, 262144, 1048576, 1048576, 1048576, 1048576]);
    expect(STREAM_BUFFER_BYTES).toBe(1048576);
    expect(traffic.bytesDown).toBe(expected.length);
    expect(Buffer.concat(received).equals(expected)).toBe(true);
  });
});
