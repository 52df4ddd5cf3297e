import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import { ipFamily } from "./address.js";
import type { Route } from "./dial.js";
import { STREAM_BUFFER_BYTES } from "./exchange.js";

/** Idle upstream connections kept across all hosts; each holds ~80 KB of OpenSSL and Node state. */
const MAX_IDLE = 32;
/** How long an idle upstream connection is kept (LLM APIs are often quiet for tens of seconds). */
const IDLE_MS = 30_000;
/**
 * How long a connection dialled ahead waits for its tunnel's first request. A client that sends
 * none so soon gains nothing from it, and a server may close a connection that stays silent.
 */
const AHEAD_MS = 5_000;

export interface UpstreamPool {
  agent(scheme: "http" | "https"): http.Agent;
  /**
   * Opens an HTTPS connection to `route` for a request that has not come yet, unless an idle one
   * is pooled: the next request to that host takes it. Returns what closes it if none has.
   */
  dialAhead(route: Route): () => void;
  destroy(): void;
}

/**
 * Keep-alive agents for upstream connections, reused across client connections. The HTTPS agent
 * is made on first use, with the proxy's trust store.
 */
export function createUpstreamPool(trust: () => SecureContext): UpstreamPool {
  const options = {
    keepAlive: true,
    timeout: IDLE_MS,
    scheduling: "lifo" as const,
    highWaterMark: STREAM_BUFFER_BYTES,
  };
  const plain = capIdle(new http.Agent(options));
  let secure: DialAheadAgent | undefined;
  const secureAgent = () => {
    secure ??= capIdle(new DialAheadAgent({ ...options, secureContext: trust() }));
    return secure;
  };
  return {
    agent: (scheme) => (scheme === "http" ? plain : secureAgent()),
    dialAhead: (route) => secureAgent().dialAhead(route),
    destroy() {
      plain.destroy();
      secure?.destroy();
    },
  };
}

/**
 * An HTTPS agent that can open a connection before its request exists. The proxy dials a decrypted
 * tunnel's upstream while its client is still in the TLS handshake with the proxy, so that the
 * tunnel's first request does not wait for a second handshake, with the upstream, after it.
 */
class DialAheadAgent extends https.Agent {
  /** Connections dialled ahead and not yet taken, by the agent's name for their host. */
  readonly #ahead = new Map<string, Set<TLSSocket>>();

  dialAhead(route: Route): () => void {
    const options = {
      ...this.options,
      host: route.host,
      port: route.port,
      lookup: route.lookup,
      // Node sends no server name for an IP address.
      servername: ipFamily(route.host) === 0 ? route.host : "",
    };
    const name = this.getName(options);
    if ((this.freeSockets[name]?.length ?? 0) > 0) return () => {};
    // As Node's createSocket would: `_agentKey` is the key of its TLS session cache, so this
    // connection resumes a session to the host and caches its own.
    const socket = super.createConnection({
      ...options,
      _agentKey: name,
    } as https.RequestOptions) as TLSSocket;
    const waiting = this.#ahead.get(name) ?? new Set();
    this.#ahead.set(name, waiting.add(socket));
    // A failure is the request's to report: it dials again and meets the error itself.
    socket.on("error", () => {});
    const release = () => {
      clearTimeout(timer);
      if (waiting.delete(socket)) socket.destroy();
      if (waiting.size === 0 && this.#ahead.get(name) === waiting) this.#ahead.delete(name);
    };
    const timer = setTimeout(release, AHEAD_MS).unref();
    socket.once("close", release);
    return release;
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (error: Error | null, stream: Duplex) => void,
  ) {
    const waiting = this.#ahead.get(this.getName(options));
    for (const socket of waiting ?? []) {
      waiting?.delete(socket);
      if (!socket.destroyed) return socket;
    }
    return super.createConnection(options, callback);
  }

  override destroy(): void {
    for (const waiting of this.#ahead.values()) for (const socket of waiting) socket.destroy();
    this.#ahead.clear();
    super.destroy();
  }
}

/**
 * Node bounds idle connections per host only; across many hosts they add up. This closes the
 * connection idle longest once more than MAX_IDLE are idle in all.
 */
function capIdle<A extends http.Agent>(agent: A): A {
  const idle = new Set<Socket>(); // in the order they became idle
  agent.on("free", (socket: Socket) => {
    idle.delete(socket);
    idle.add(socket);
    if (idle.size <= MAX_IDLE) return;
    const pooled = new Set(Object.values(agent.freeSockets).flat());
    for (const candidate of idle) {
      if (idle.size <= MAX_IDLE) break;
      idle.delete(candidate);
      if (pooled.has(candidate)) candidate.destroy();
    }
  });
  return agent;
}
