import { once } from "node:events";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";
import { type Duplex, Readable, type Transform } from "node:stream";
import tls from "node:tls";
import type { AuditEntry, AuditLog } from "./audit.js";
import type { CredentialSwap, ResponseScrub, TokenRefresh } from "./credentials/index.js";
import { RefusedAddressError, type Route } from "./dial.js";
import {
  forwardRequest,
  forwardUpgrade,
  relayDown,
  STREAM_BUFFER_BYTES,
  spliceRelayed,
  type Traffic,
  type UpstreamRequest,
} from "./exchange.js";
import { endToEndHeaders, finalResponse, withHeader } from "./headers.js";
import {
  type Attempt,
  type CompiledPolicy,
  type CompiledRule,
  type Denial,
  decide,
  decideConnect,
  explainHostMismatch,
  explainPolicyDenial,
  explainRefusedAddress,
  normalizePath,
} from "./policy/index.js";
import { createUpstreamPool } from "./pool.js";
import {
  type Authority,
  formatAuthority,
  parseAbsoluteHttp,
  parseAuthority,
  splitPathAndQuery,
} from "./target.js";
import type { CertificateAuthority } from "./tls/authority.js";

/** Everything a proxy instance needs to answer clients. */
export interface ProxyDeps {
  policy: CompiledPolicy;
  route: (host: string, port: number) => Route;
  authority: CertificateAuthority;
  audit: AuditLog;
  checkAuth: (header: string | undefined) => boolean;
  upstreamTrust: () => tls.SecureContext;
  onDeny: ((host: string, message: string) => void) | undefined;
  /** Swaps the run's dummies for real values on their hosts and back in responses. */
  credentials: CredentialSwap | null;
}

export interface ProxyServer {
  server: http.Server;
  close(): Promise<void>;
}

/** An inspected CONNECT tunnel, as the requests inside it see it. */
interface Tunnel extends Authority {
  scheme: "http" | "https";
}

/** A response the proxy writes itself. */
interface Answer {
  status: number;
  headers: string[];
  body: string;
}

/** A request on its way through the proxy, as policy and the audit log see it. */
interface Exchange {
  started: number;
  time: string;
  attempt: Attempt;
  decision: "allow" | "deny";
  rule: number | null;
  reason: string | null;
  traffic: Traffic;
  recorded: boolean;
  /** Credentials injected, and dummies that went to a host not theirs (audit only, by name). */
  credentials: string[];
  dummySentTo: string[];
}

const ESTABLISHED = "HTTP/1.1 200 Connection Established\r\n\r\n";
const PLAIN = ["Content-Type", "text/plain; charset=utf-8"];
// The proxy answered `Expect: 100-continue` itself; the upstream need not wait for a second one.
const DROP_FROM_REQUEST = new Set(["expect"]);
const SERVER_OPTIONS: http.ServerOptions = {
  // Uploads and event streams can run for as long as they like.
  requestTimeout: 0,
  keepAliveTimeout: 60_000,
};

const defaultPort = (scheme: "http" | "https") => (scheme === "https" ? 443 : 80);

export function createProxyServer(deps: ProxyDeps): ProxyServer {
  // Upstream connections are pooled per host and port and reused across client connections.
  const pool = createUpstreamPool(deps.upstreamTrust);
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  /** Where each inspected tunnel was opened to, and whether it carries TLS. */
  const tunnels = new WeakMap<Duplex, Tunnel>();

  const outer = http.createServer(SERVER_OPTIONS);
  const inner = http.createServer(SERVER_OPTIONS);
  outer.on("connection", track);

  const begin = (attempt: Attempt): Exchange => ({
    started: performance.now(),
    time: new Date().toISOString(),
    attempt,
    decision: "allow",
    rule: null,
    reason: null,
    traffic: { bytesUp: 0, bytesDown: 0 },
    recorded: false,
    credentials: [],
    dummySentTo: [],
  });

  const record = (exchange: Exchange, status: number) => {
    if (exchange.recorded) return;
    exchange.recorded = true;
    const entry: AuditEntry = {
      time: exchange.time,
      method: exchange.attempt.method,
      url: exchange.attempt.url,
      decision: exchange.decision,
      rule: exchange.rule,
      reason: exchange.reason,
      status,
      bytesUp: exchange.traffic.bytesUp,
      bytesDown: exchange.traffic.bytesDown,
      durationMs: Math.round((performance.now() - exchange.started) * 1000) / 1000,
      ...(exchange.credentials.length > 0 && { credentials: exchange.credentials }),
      ...(exchange.dummySentTo.length > 0 && { dummySentTo: exchange.dummySentTo }),
    };
    deps.audit.write(entry);
  };

  const deny = (exchange: Exchange, denial: Denial, rule: CompiledRule | null) => {
    exchange.decision = "deny";
    exchange.reason = denial.reason;
    exchange.rule = rule?.index ?? null;
    deps.onDeny?.(exchange.attempt.host, denial.line);
  };

  const denialHeaders = (denial: Denial) => [...PLAIN, "X-Jailed-Denied", denial.reason];

  /** A denial or upstream failure for a request whose response has not started. */
  const failure = (exchange: Exchange, error: Error): Answer => {
    if (error instanceof RefusedAddressError) {
      const denial = explainRefusedAddress(exchange.attempt, error.refused);
      deny(exchange, denial, null);
      return { status: 403, headers: denialHeaders(denial), body: denial.body };
    }
    const code = (error as NodeJS.ErrnoException).code ?? error.name;
    return {
      status: 502,
      headers: PLAIN,
      body: `jailed: ${exchange.attempt.url}: upstream failed: ${code}: ${error.message}\n`,
    };
  };

  // ---- requests: absolute-form on the proxy, origin-form inside a decrypted tunnel ----

  const handleRequest = (req: IncomingMessage, res: ServerResponse, tunnel: Tunnel | undefined) => {
    const target = resolveTarget(req, tunnel);
    if ("status" in target) {
      res.writeHead(target.status, target.headers).end(target.body);
      return;
    }
    const { upstream, exchange } = target;
    res.on("close", () => record(exchange, res.statusCode));
    const respond = (status: number, headers: string[], body: string) =>
      res.writeHead(status, headers).end(body);
    const routed = admit(exchange, target, upstream.scheme, respond);
    if (routed === null) return;
    const swapped = swapCredentials(exchange, upstream);
    const fail = (error: Error) => {
      const { status, headers, body } = failure(exchange, error);
      respond(status, headers, body);
    };
    const forward = (headers: string[], body: Readable) =>
      forwardRequest(
        { ...upstream, ...swapped.target, headers, route: routed.route, agent: routed.agent },
        body,
        res,
        exchange.traffic,
        fail,
        swapped.scrub,
      );
    const { refresh, requestBody } = swapped;
    if (refresh === null) {
      forward(swapped.target.headers, requestBody === null ? req : req.pipe(requestBody()));
      return;
    }
    // A token request's body is read whole first: the refresh token in it is swapped.
    res.on("close", refresh.close);
    refresh
      .prepare(swapped.target.headers, req)
      .then((prepared) => forward(prepared.headers, Readable.from([prepared.body])), fail);
  };

  const handleUpgrade = (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    tunnel: Tunnel | undefined,
  ) => {
    socket.on("error", () => socket.destroy());
    const target = resolveTarget(req, tunnel);
    if ("status" in target) {
      socket.end(finalResponse(target.status, target.headers, target.body));
      return;
    }
    const { upstream, exchange } = target;
    // Answers written in full are recorded at once; an upgraded connection when it closes.
    socket.on("close", () => record(exchange, 101));
    const respond = (code: number, headers: string[], body: string) => {
      record(exchange, code);
      socket.end(finalResponse(code, headers, body));
    };
    const routed = admit(exchange, target, upstream.scheme, respond);
    if (routed === null) return;
    // The upgraded connection's bytes are spliced, not scrubbed: only its request head gets the swap.
    const swapped = swapCredentials(exchange, upstream).target;
    const headers = [
      ...swapped.headers,
      "Connection",
      "Upgrade",
      "Upgrade",
      req.headers.upgrade ?? "",
    ];
    forwardUpgrade(
      { ...upstream, path: swapped.path, headers, route: routed.route, agent: routed.agent },
      socket,
      head,
      exchange.traffic,
      (error) => {
        const { status: code, headers: failHeaders, body } = failure(exchange, error);
        respond(code, failHeaders, body);
      },
      track,
    );
  };

  type Resolved =
    | Answer
    | {
        upstream: Omit<UpstreamRequest, "route" | "agent">;
        exchange: Exchange;
        facts: { host: string; port: number; method: string; path: string };
        hostHeader: string | undefined;
      };

  /** Works out where a request goes: authorization, request target, Host, normalised path. */
  const resolveTarget = (req: IncomingMessage, tunnel: Tunnel | undefined): Resolved => {
    const method = req.method ?? "GET";
    let scheme: "http" | "https";
    let authority: Authority;
    let rawPath: string;
    let query: string;
    let headers = endToEndHeaders(req.rawHeaders, DROP_FROM_REQUEST);
    if (tunnel === undefined) {
      if (!deps.checkAuth(req.headers["proxy-authorization"])) return proxyAuthRequired();
      const absolute = parseAbsoluteHttp(req.url ?? "");
      if (absolute === null) {
        return {
          status: 400,
          headers: PLAIN,
          body: "jailed: this is a proxy: send absolute-form http:// requests, or CONNECT for https\n",
        };
      }
      scheme = "http";
      authority = absolute;
      ({ path: rawPath, query } = absolute);
      // The request target names the server; a Host field that disagrees is replaced.
      headers = withHeader(headers, "Host", formatAuthority(absolute.host, absolute.port, 80));
    } else {
      scheme = tunnel.scheme;
      authority = tunnel;
      ({ path: rawPath, query } = splitPathAndQuery(req.url ?? "/"));
      if (!rawPath.startsWith("/") && rawPath !== "*") {
        return {
          status: 400,
          headers: PLAIN,
          body: "jailed: inside a tunnel, send origin-form requests\n",
        };
      }
    }
    if (req.headers["transfer-encoding"] !== undefined)
      headers.push("Transfer-Encoding", "chunked");
    const path = rawPath === "*" ? "*" : normalizePath(rawPath);
    const url = `${scheme}://${formatAuthority(authority.host, authority.port, defaultPort(scheme))}${path}${query}`;
    const exchange = begin({ method, url, host: authority.host, port: authority.port });
    return {
      upstream: { scheme, method, path: `${path}${query}`, headers },
      exchange,
      facts: { host: authority.host, port: authority.port, method, path },
      hostHeader: tunnel === undefined ? undefined : req.headers.host,
    };
  };

  /** The request with real values in place of the dummies its host may have, and how to clean its answer. */
  const swapCredentials = (
    exchange: Exchange,
    upstream: { headers: string[]; path: string },
  ): {
    target: { headers: string[]; path: string };
    scrub: ResponseScrub | null;
    refresh: TokenRefresh | null;
    requestBody: (() => Transform) | null;
  } => {
    if (deps.credentials === null) {
      return { target: upstream, scrub: null, refresh: null, requestBody: null };
    }
    const swapped = deps.credentials.request(
      exchange.attempt.host,
      upstream.headers,
      upstream.path,
    );
    exchange.credentials = swapped.injected;
    exchange.dummySentTo = swapped.dummySentTo;
    return {
      target: { headers: swapped.headers, path: swapped.path },
      scrub: swapped.scrub,
      refresh: swapped.refresh,
      requestBody: swapped.requestBody,
    };
  };

  /** Policy for one request; inside a tunnel, also that Host names the host the tunnel is to. */
  const judge = (
    exchange: Exchange,
    facts: { host: string; port: number; method: string; path: string },
    hostHeader: string | undefined,
  ): Denial | null => {
    const sameHost =
      hostHeader === undefined ||
      hostHeader === facts.host || // the common case, without normalising
      parseAuthority(hostHeader, facts.port)?.host === facts.host;
    if (!sameHost) {
      const denial = explainHostMismatch(exchange.attempt, hostHeader);
      deny(exchange, denial, null);
      return denial;
    }
    const decision = decide(deps.policy, facts);
    exchange.rule = decision.rule?.index ?? null;
    if (decision.allow) return null;
    const denial = explainPolicyDenial(exchange.attempt, decision.rule);
    deny(exchange, denial, decision.rule);
    return denial;
  };

  const routeFor = (
    exchange: Exchange,
    scheme: "http" | "https",
  ): { route: Route; agent: http.Agent } | Answer => {
    try {
      const route = deps.route(exchange.attempt.host, exchange.attempt.port);
      return { route, agent: pool.agent(scheme) };
    } catch (error) {
      return failure(exchange, error as Error);
    }
  };

  /** Policy, then routing: the route, or null once `respond` has answered the refusal. */
  const admit = (
    exchange: Exchange,
    target: { facts: Parameters<typeof judge>[1]; hostHeader: string | undefined },
    scheme: "http" | "https",
    respond: Refuse,
  ): { route: Route; agent: http.Agent } | null => {
    const denied = judge(exchange, target.facts, target.hostHeader);
    if (denied) {
      respond(403, denialHeaders(denied), denied.body);
      return null;
    }
    const routed = routeFor(exchange, scheme);
    if ("status" in routed) {
      respond(routed.status, routed.headers, routed.body);
      return null;
    }
    return routed;
  };

  // ---- CONNECT: refuse, pass through, or decrypt and hand to the inner server ----

  type Refuse = (status: number, headers: string[], body: string) => void;

  outer.on("connect", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (!deps.checkAuth(req.headers["proxy-authorization"])) {
      const { status, headers, body } = proxyAuthRequired();
      socket.end(finalResponse(status, headers, body));
      return;
    }
    const authority = parseAuthority(req.url ?? "", null);
    if (authority === null) {
      socket.end(finalResponse(400, PLAIN, "jailed: CONNECT takes host:port\n"));
      return;
    }
    const { host, port } = authority;
    const exchange = begin({ method: "CONNECT", url: formatAuthority(host, port, 0), host, port });
    // A refusal is recorded at once, a tunnel when it closes.
    const refuse: Refuse = (code, headers, body) => {
      record(exchange, code);
      socket.end(finalResponse(code, headers, body));
    };
    const decision = decideConnect(deps.policy, host, port);
    exchange.rule = decision.rule?.index ?? null;
    if (decision.action === "deny") {
      const denial = explainPolicyDenial(exchange.attempt, decision.rule);
      deny(exchange, denial, decision.rule);
      refuse(403, denialHeaders(denial), denial.body);
    } else if (decision.action === "inspect") {
      inspect(socket as net.Socket, head, authority, exchange);
    } else {
      passThrough(socket, head, exchange, refuse);
    }
  });

  /**
   * Answers CONNECT and serves the requests inside the tunnel: decrypted with a certificate for
   * its host, or as they come when the client speaks plain HTTP in it (CONNECT to port 80 does
   * that). A TLS connection starts with a handshake record, byte 0x16.
   */
  const inspect = (socket: net.Socket, head: Buffer, authority: Authority, exchange: Exchange) => {
    // Dialled while the client sets up its TLS with the proxy, so the two set-ups overlap, but in a
    // turn of the event loop of its own: a run's first dial loads and compiles node's TLS client
    // (~3 ms), and this turn already answers the CONNECT. CONNECT to port 80 carries plain HTTP,
    // which the plain agent serves, and so does a tunnel whose first byte says so: if that byte came
    // with the CONNECT, it is read before the dial's turn, which then never comes.
    let releaseAhead = () => {};
    const ahead =
      authority.port === 80
        ? undefined
        : setImmediate(() => {
            if (!socket.destroyed) releaseAhead = dialAhead(authority);
          });
    const stopAhead = () => {
      clearImmediate(ahead);
      releaseAhead();
    };
    socket.write(ESTABLISHED);
    if (head.length > 0) socket.unshift(head);
    socket.on("close", () => {
      stopAhead();
      // The tunnel's line counts its raw bytes; each request inside has its own line.
      exchange.traffic.bytesUp = socket.bytesRead;
      exchange.traffic.bytesDown = socket.bytesWritten;
      record(exchange, 200);
    });
    // The CONNECT socket is half-open capable (node:http's): a client gone before its first byte
    // would leave it open for good.
    const gone = () => socket.destroy();
    socket.once("end", gone);
    const serve = () => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) {
        socket.once("readable", serve);
        return;
      }
      socket.off("end", gone);
      socket.unshift(first);
      if (first[0] !== 0x16) {
        stopAhead();
        tunnels.set(socket, { ...authority, scheme: "http" });
        inner.emit("connection", socket);
        return;
      }
      // Node's TLSSocket takes highWaterMark (it hands it to net.Socket); its types leave it out.
      const options: tls.TLSSocketOptions & { highWaterMark: number } = {
        isServer: true,
        secureContext: deps.authority.contextFor(authority.host),
        ALPNProtocols: ["http/1.1"],
        highWaterMark: STREAM_BUFFER_BYTES,
      };
      const decrypted = new tls.TLSSocket(socket, options);
      decrypted.on("error", () => socket.destroy());
      track(decrypted);
      tunnels.set(decrypted, { ...authority, scheme: "https" });
      inner.emit("connection", decrypted);
    };
    serve();
  };

  /**
   * Opens a tunnel's HTTPS upstream connection while its client and the proxy shake hands; returns
   * what closes it if no request has taken it. A route that fails is the request's to report.
   */
  const dialAhead = (authority: Authority): (() => void) => {
    try {
      return pool.dialAhead(deps.route(authority.host, authority.port));
    } catch {
      return () => {};
    }
  };

  /** Dials the upstream, answers CONNECT, and splices the bytes through without reading them. */
  const passThrough = (socket: Duplex, head: Buffer, exchange: Exchange, refuse: Refuse) => {
    let route: Route;
    try {
      route = deps.route(exchange.attempt.host, exchange.attempt.port);
    } catch (error) {
      const { status, headers, body } = failure(exchange, error as Error);
      refuse(status, headers, body);
      return;
    }
    const upstream: net.Socket = net.connect({
      host: route.host,
      port: route.port,
      lookup: route.lookup,
      onread: relayDown(socket, exchange.traffic, () => upstream),
    });
    track(upstream);
    socket.on("close", () => {
      upstream.destroy();
      record(exchange, 200);
    });
    upstream.once("error", (error) => {
      const { status, headers, body } = failure(exchange, error);
      refuse(status, headers, body);
    });
    upstream.once("connect", () => {
      upstream.removeAllListeners("error");
      socket.write(ESTABLISHED);
      if (head.length > 0) upstream.write(head);
      spliceRelayed(socket, upstream, exchange.traffic);
    });
  };

  outer.on("request", (req: IncomingMessage, res: ServerResponse) =>
    handleRequest(req, res, undefined),
  );
  outer.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    handleUpgrade(req, socket, head, undefined),
  );
  inner.on("request", (req: IncomingMessage, res: ServerResponse) =>
    handleRequest(req, res, tunnels.get(req.socket)),
  );
  inner.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    handleUpgrade(req, socket, head, tunnels.get(socket)),
  );
  // A client that does not trust the run's CA fails the handshake: nothing to answer.
  inner.on("clientError", (_error: Error, socket: Duplex) => socket.destroy());

  return {
    server: outer,
    async close() {
      const closed = new Promise<void>((resolve) => outer.close(() => resolve()));
      // Every open exchange writes its audit line on close: let them all do so before returning.
      const open = [...sockets].map((socket) => once(socket, "close"));
      for (const socket of sockets) socket.destroy();
      pool.destroy();
      await Promise.all([closed, ...open]);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function proxyAuthRequired(): Answer {
  return {
    status: 407,
    headers: [...PLAIN, "Proxy-Authenticate", 'Basic realm="jailed"'],
    body: "jailed: proxy authentication required\n",
  };
}
