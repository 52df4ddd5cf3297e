import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import { STREAM_BUFFER_BYTES } from "./exchange.js";

/** Idle upstream connections kept across all hosts; each holds ~80 KB of OpenSSL and Node state. */
const MAX_IDLE = 32;
/** How long an idle upstream connection is kept (LLM APIs are often quiet for tens of seconds). */
const IDLE_MS = 30_000;

export interface UpstreamPool {
  agent(scheme: "http" | "https"): http.Agent;
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
  let secure: https.Agent | undefined;
  return {
    agent(scheme) {
      if (scheme === "http") return plain;
      secure ??= capIdle(new https.Agent({ ...options, secureContext: trust() }));
      return secure;
    },
    destroy() {
      plain.destroy();
      secure?.destroy();
    },
  };
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
