import { X509Certificate } from "node:crypto";
import { chmodSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { Rule } from "../spec/policy.js";
import { openAuditLog } from "./audit.js";
import { createProxyAuthCheck } from "./auth.js";
import type { ResolvedCredential } from "./credentials/inject.js";
import type { Resolve, UpstreamMap } from "./dial.js";
import { type CompiledPolicy, compilePolicy } from "./policy/compile.js";
import { createRunCa, type RunCa } from "./tls/ca.js";

export type { AuditEntry } from "./audit.js";
export { proxyAuthorization } from "./auth.js";
export { makeDummy } from "./credentials/dummy.js";
export type { ResolvedCredential } from "./credentials/inject.js";
export type { Resolve, ResolvedAddress, UpstreamMap } from "./dial.js";
export { PolicyError } from "./policy/compile.js";

export interface ProxyOptions {
  /** Unix socket to listen on, in a directory only the user can enter; made mode 0600. */
  socketPath: string;
  /** Clients must send `Proxy-Authorization: Basic base64("jailed:" + token)`. */
  token: string;
  rules: readonly Rule[];
  /** JSONL audit log, appended to. */
  auditPath: string;
  /** Called for every denial with the host and a one-line explanation. */
  onDeny?: (host: string, message: string) => void;
  /** The run's credentials, real values and dummies: held in memory only, never written anywhere. */
  credentials?: readonly ResolvedCredential[];
  /** Trusted for upstream TLS in addition to Node's store (its roots and NODE_EXTRA_CA_CERTS). */
  extraUpstreamCaPems?: readonly string[];
  /** Tests only: dial these addresses for these hosts, unchecked (they stand in for the Internet). */
  upstreams?: UpstreamMap;
  /** Tests only: resolve names with this instead of the system resolver. */
  lookup?: Resolve;
}

export interface RunningProxy {
  /** The run's CA certificate: the jail's trust bundle must include it. */
  caCertPem: string;
  close(): Promise<void>;
}

/** The proxy before it answers: its policy, CA, audit log and socket, ready for the jail to start. */
export interface PreparedProxy {
  /** The run's CA certificate: the jail's trust bundle must include it. */
  caCertPem: string;
  /** Resolves when the socket accepts its first connection: a caller may serve no sooner. */
  firstConnection: Promise<void>;
  /**
   * Loads the half that answers clients (node:http, node:tls and the proxy's request code, ~10 ms
   * of CPU) and hands it every connection accepted so far. A run calls it at the jail's first
   * connection, or once the agent has had time to start (runtime/network.ts).
   */
  serve(): Promise<RunningProxy>;
  /** For a run that stops before serve(): closes the socket, its connections and the audit log. */
  close(): Promise<void>;
}

/** What the proxy decides before it touches a file or a socket. */
export interface ProxyParts {
  policy: CompiledPolicy;
  checkAuth: (header: string | undefined) => boolean;
  ca: RunCa;
}

/** The policy compiled (a bad rule throws PolicyError), the proxy credential's check, the run's CA. */
export function makeProxyParts(
  options: Pick<ProxyOptions, "token" | "rules" | "extraUpstreamCaPems">,
): ProxyParts {
  const policy = compilePolicy(options.rules);
  const checkAuth = createProxyAuthCheck(options.token);
  // Node would ignore a bad one silently (and its upstreams would fail later): say so now.
  for (const [index, pem] of (options.extraUpstreamCaPems ?? []).entries()) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new Error(
        `extraUpstreamCaPems[${index}] is not a PEM certificate: ${(error as Error).message}`,
      );
    }
  }
  return { policy, checkAuth, ca: createRunCa() };
}

/**
 * Everything that can refuse a start, done before the jail starts: the proxy's parts made, the
 * audit log opened, and the socket listening. Connections accepted before serve() wait,
 * unanswered; nothing is forwarded until then.
 */
export async function prepareProxy(options: ProxyOptions): Promise<PreparedProxy> {
  const { policy, checkAuth, ca } = makeProxyParts(options);
  const audit = openAuditLog(options.auditPath);
  const held = new Set<Socket>();
  let connected = (): void => {};
  const firstConnection = new Promise<void>((resolve) => {
    connected = resolve;
  });
  let accept = (socket: Socket): void => {
    connected();
    held.add(socket);
    socket.once("close", () => held.delete(socket));
  };
  // Half-open like node:http's own server: a client that has sent its last request still reads the answer.
  const socket = createServer({ allowHalfOpen: true }, (connection) => accept(connection));
  try {
    await listen(socket, options.socketPath);
    chmodSync(options.socketPath, 0o600);
  } catch (error) {
    socket.close();
    await audit.close();
    throw error;
  }
  const closeUnserved = async (): Promise<void> => {
    socket.close();
    for (const connection of held) connection.destroy();
    await audit.close();
  };
  return {
    caCertPem: ca.certPem,
    firstConnection,
    async serve() {
      const { serveProxy } = await import("./serve.js");
      const proxy = await serveProxy({ ...options, policy, checkAuth, ca, audit });
      accept = (connection) => proxy.server.emit("connection", connection);
      for (const connection of held) accept(connection);
      held.clear();
      return {
        caCertPem: ca.certPem,
        async close() {
          socket.close();
          await proxy.close();
          await audit.close();
        },
      };
    },
    close: closeUnserved,
  };
}

/** Starts the run's policy proxy; rejects on a bad rule (PolicyError) or an unusable path. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  return (await prepareProxy(options)).serve();
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
