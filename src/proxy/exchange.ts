import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Duplex, Readable } from "node:stream";
import type { ResponseScrub } from "./credentials/index.js";
import type { Route } from "./dial.js";
import { endToEndHeaders, rawResponse } from "./headers.js";

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
  req: IncomingMessage,
  res: ServerResponse,
  traffic: Traffic,
  fail: (error: Error) => void,
  scrub: ResponseScrub | null = null,
): void {
  const outgoing = request(upstream, fail);
  if (outgoing === null) return;
  req.on("data", (chunk: Buffer) => {
    traffic.bytesUp += chunk.length;
  });
  req.pipe(outgoing);
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
export function splice(client: Duplex, upstream: Duplex, traffic: Traffic): void {
  client.on("data", (chunk: Buffer) => {
    traffic.bytesUp += chunk.length;
  });
  upstream.on("data", (chunk: Buffer) => {
    traffic.bytesDown += chunk.length;
  });
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("close", close);
  upstream.on("close", close);
  client.on("error", close);
  upstream.on("error", close);
}
