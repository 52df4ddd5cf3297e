import http, { type ServerResponse } from "node:http";
import https from "node:https";
import type net from "node:net";
import type { Duplex, Readable } from "node:stream";
import type { ResponseScrub } from "./credentials/index.js";
import type { Route } from "./dial.js";
import { endToEndHeaders, rawResponse } from "./headers.js";

/**
 * How much a connection on either side of a decrypted exchange buffers before it pushes back
 * (Node's default is 16 KB). Through the decrypting proxy, a download took ~25% less proxy CPU
 * per MB with 1 MB on both legs (256 KB: ~5% more than 1 MB): the proxy reads and writes in
 * larger batches and stops and restarts its sockets less often (bench/proxy/throughput.mjs).
 * It is a limit, not an allocation: only a client slower than its upstream fills it, to ~2 MB
 * (the response body read ahead, and the writes not yet taken by the client).
 */
export const STREAM_BUFFER_BYTES = 1024 * 1024;

/**
 * The buffer a passthrough tunnel reads its upstream into starts at Node's own read size and grows
 * fourfold, up to STREAM_BUFFER_BYTES, each time a read fills it: a tunnel that carries a download
 * reads 1 MB at a time (half the proxy's CPU per MB of 64 KB reads, and 83% of direct throughput
 * instead of 69% in bench/proxy/throughput.mjs), one that carries requests and answers stays small.
 */
const RELAY_BUFFER_START_BYTES = 64 * 1024;

/** An allowed request, ready to go upstream. */
export interface UpstreamRequest {
  scheme: "http" | "https";
  route: Route;
  agent: http.Agent;
  method: string;
  /** Normalised path and the query: exactly what was checked. */
  path: string;
  /** Raw header list to send, Host included. */
  headers: string[];
}

/** Body bytes (upgraded connections: all bytes) each way, filled in while the exchange runs. */
export interface Traffic {
  bytesUp: number;
  bytesDown: number;
}

/**
 * The upstream request, or null after `fail` was told why it could not be made (Node refuses
 * some header values its parser lets through).
 */
function request(
  upstream: UpstreamRequest,
  fail: (error: Error) => void,
): http.ClientRequest | null {
  const transport = upstream.scheme === "https" ? https : http;
  try {
    return transport.request({
      host: upstream.route.host,
      port: upstream.route.port,
      lookup: upstream.route.lookup,
      agent: upstream.agent,
      method: upstream.method,
      path: upstream.path,
      headers: upstream.headers,
    });
  } catch (error) {
    fail(error as Error);
    return null;
  }
}

/**
 * Streams the request body up and the response down as they come: every chunk is written
 * through, so server-sent events arrive token by token; nothing is buffered beyond what
 * backpressure holds. `fail` answers an error that happened before any response was sent;
 * after that, the client connection is cut.
 */
export function forwardRequest(
  upstream: UpstreamRequest,
  requestBody: Readable,
  res: ServerResponse,
  traffic: Traffic,
  fail: (error: Error) => void,
  scrub: ResponseScrub | null = null,
): void {
  const outgoing = request(upstream, fail);
  if (outgoing === null) return;
  requestBody.on("data", (chunk: Buffer) => {
    traffic.bytesUp += chunk.length;
  });
  requestBody.pipe(outgoing);
  outgoing.on("response", (incoming) => {
    const headers = endToEndHeaders(incoming.rawHeaders);
    const scrubbed = scrub?.(headers) ?? null;
    try {
      res.writeHead(
        incoming.statusCode ?? 502,
        incoming.statusMessage,
        scrubbed?.headers ?? headers,
      );
    } catch (error) {
      // The same for a response head Node will not write.
      incoming.destroy();
      fail(error as Error);
      return;
    }
    let bodyStarted = false;
    // The head goes out with the first body bytes when they are already here (one write, one
    // TLS record); a body that is slow to come, like an event stream, gets the head sent alone
    // before the event loop waits for it.
    setImmediate(() => {
      if (!bodyStarted && !res.writableEnded) res.flushHeaders();
    });
    incoming.on("data", (chunk: Buffer) => {
      bodyStarted = true;
      traffic.bytesDown += chunk.length;
    });
    incoming.on("close", () => {
      if (!incoming.complete) res.destroy();
    });
    let body: Readable = incoming;
    for (const stage of scrubbed?.body ?? []) {
      stage.on("error", () => res.destroy());
      body = body.pipe(stage);
    }
    body.pipe(res);
  });
  outgoing.on("error", (error) => {
    if (res.headersSent) res.destroy();
    else fail(error);
  });
  res.on("close", () => {
    if (!res.writableFinished) outgoing.destroy();
  });
}

/**
 * Forwards an Upgrade request (WebSocket); on 101 the two connections are spliced together. Any
 * other answer is relayed and the connection closed.
 */
export function forwardUpgrade(
  upstream: UpstreamRequest,
  socket: Duplex,
  head: Buffer,
  traffic: Traffic,
  fail: (error: Error) => void,
  track: (socket: Duplex) => void,
): void {
  const outgoing = request(upstream, fail);
  if (outgoing === null) return;
  let answered = false;
  outgoing.on("upgrade", (incoming, upstreamSocket, upstreamHead) => {
    answered = true;
    track(upstreamSocket);
    socket.write(
      rawResponse(101, incoming.statusMessage ?? "Switching Protocols", incoming.rawHeaders),
    );
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    splice(socket, upstreamSocket, traffic);
  });
  outgoing.on("response", (incoming) => {
    answered = true;
    const headers = [
      ...endToEndHeaders(incoming.rawHeaders, new Set(["content-length"])),
      "Connection",
      "close",
    ];
    socket.write(rawResponse(incoming.statusCode ?? 502, incoming.statusMessage ?? "", headers));
    incoming.on("data", (chunk: Buffer) => {
      traffic.bytesDown += chunk.length;
    });
    incoming.pipe(socket);
  });
  outgoing.on("error", (error) => {
    if (answered) socket.destroy();
    else fail(error);
  });
  socket.on("close", () => outgoing.destroy());
  outgoing.end();
}

/** Pipes two connections into each other, counting bytes; either side closing closes both. */
function splice(client: Duplex, upstream: Duplex, traffic: Traffic): void {
  upstream.on("data", (chunk: Buffer) => {
    traffic.bytesDown += chunk.length;
  });
  upstream.pipe(client);
  pipeUp(client, upstream, traffic);
}

/** `splice` for an upstream connection that reads through `relayDown`. */
export function spliceRelayed(client: Duplex, upstream: net.Socket, traffic: Traffic): void {
  upstream.on("end", () => client.end());
  pipeUp(client, upstream, traffic);
}

/**
 * The `onread` option of an upstream connection that `spliceRelayed` joins to `client`: its bytes
 * are read into a buffer of its own (RELAY_BUFFER_START_BYTES, growing), written to the client,
 * and the next read waits for that write. Against Node's default (a fresh buffer per read, piped) this took ~40% off the proxy's
 * CPU per MB through a passthrough tunnel (bench/proxy/throughput.mjs).
 */
export function relayDown(
  client: Duplex,
  traffic: Traffic,
  upstream: () => net.Socket,
): net.OnReadOpts {
  let buffer = Buffer.allocUnsafe(RELAY_BUFFER_START_BYTES);
  let filled = false;
  return {
    // Node asks for the buffer of the next read after each callback.
    buffer: () => {
      if (filled && buffer.length < STREAM_BUFFER_BYTES)
        buffer = Buffer.allocUnsafe(buffer.length * 4);
      return buffer;
    },
    callback(length, chunk) {
      traffic.bytesDown += length;
      filled = length === chunk.length;
      client.write(chunk.subarray(0, length), () => upstream().resume());
      // The buffer is the client's until that write is done: stop reading into it.
      return false;
    },
  };
}

/** The client's bytes to the upstream, counted; either side closing closes both. */
function pipeUp(client: Duplex, upstream: Duplex, traffic: Traffic): void {
  client.on("data", (chunk: Buffer) => {
    traffic.bytesUp += chunk.length;
  });
  client.pipe(upstream);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("close", close);
  upstream.on("close", close);
  client.on("error", close);
  upstream.on("error", close);
}
