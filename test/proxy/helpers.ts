// Real sockets, real TLS, on loopback: fake upstreams with their own CA, clients that reach the
// proxy only through its unix socket.
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import {
  type ProxyOptions,
  proxyAuthorization,
  type RunningProxy,
  startProxy,
} from "../../src/proxy/index.js";
import { createCertificateAuthority } from "../../src/proxy/tls/authority.js";
import type { Rule } from "../../src/spec/policy.js";

export const TOKEN = "test-token-0123456789";
export const AUTH = proxyAuthorization(TOKEN);

export interface Upstream {
  port: number;
  /** The upstream's own CA (not the proxy's). */
  caPem: string;
  /** TCP connections the upstream accepted. */
  connections: () => number;
  server: http.Server;
  close(): Promise<void>;
}

async function listening(server: net.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as net.AddressInfo).port;
}

function counted(server: net.Server): () => number {
  let count = 0;
  server.on("connection", () => {
    count++;
  });
  return () => count;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** An HTTPS server on loopback that serves any name with certificates from its own CA. */
export async function startHttpsUpstream(handler: http.RequestListener): Promise<Upstream> {
  const ca = createCertificateAuthority();
  const server = https.createServer(
    { SNICallback: (name, done) => done(null, ca.contextFor(name)) },
    handler,
  );
  const connections = counted(server);
  const port = await listening(server);
  return { port, caPem: ca.certPem, connections, server, close: () => closeServer(server) };
}

export async function startHttpUpstream(handler: http.RequestListener): Promise<Upstream> {
  const server = http.createServer(handler);
  const connections = counted(server);
  const port = await listening(server);
  return { port, caPem: "", connections, server, close: () => closeServer(server) };
}

export interface TestProxy {
  proxy: RunningProxy;
  socketPath: string;
  auditPath: string;
  denials: { host: string; message: string }[];
  /** Closes the proxy and returns the audit log's entries. */
  finish(): Promise<Record<string, unknown>[]>;
}

export async function startTestProxy(
  rules: Rule[],
  options: Partial<Omit<ProxyOptions, "socketPath" | "auditPath" | "rules">> = {},
): Promise<TestProxy> {
  const dir = await mkdtemp(join(tmpdir(), "jailed-proxy-"));
  const socketPath = join(dir, "proxy.sock");
  const auditPath = join(dir, "audit.jsonl");
  const denials: { host: string; message: string }[] = [];
  const proxy = await startProxy({
    socketPath,
    auditPath,
    rules,
    token: TOKEN,
    onDeny: (host, message) => denials.push({ host, message }),
    ...options,
  });
  let entries: Record<string, unknown>[] | undefined;
  return {
    proxy,
    socketPath,
    auditPath,
    denials,
    async finish() {
      if (entries === undefined) {
        await proxy.close();
        const text = await readFile(auditPath, "utf8");
        entries = text
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        await rm(dir, { recursive: true, force: true });
      }
      return entries;
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export async function reply(req: http.ClientRequest, body?: string | Buffer): Promise<Reply> {
  req.end(body);
  const [res] = (await once(req, "response")) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    body: Buffer.concat(chunks).toString(),
  };
}

/** A plain-HTTP request through the proxy (absolute-form), as a proxy-configured client sends it. */
export function viaProxy(
  socketPath: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; auth?: string | null } = {},
): http.ClientRequest {
  const auth = options.auth === undefined ? AUTH : options.auth;
  return http.request({
    socketPath,
    method: options.method ?? "GET",
    path: url,
    headers: {
      host: new URL(url).host,
      ...(auth === null ? {} : { "proxy-authorization": auth }),
      ...options.headers,
    },
    agent: false,
  });
}

/**
 * Sends CONNECT over the unix socket. Resolves with the raw socket once the proxy answers 200,
 * or with the proxy's whole refusal.
 */
export async function connectRaw(
  socketPath: string,
  authority: string,
  auth: string | null = AUTH,
): Promise<{ socket: net.Socket } | { refusal: string }> {
  const socket = net.connect(socketPath);
  await once(socket, "connect");
  const authLine = auth === null ? "" : `Proxy-Authorization: ${auth}\r\n`;
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${authLine}\r\n`);
  let head = "";
  for (;;) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      const ended = await Promise.race([
        once(socket, "readable").then(() => false),
        once(socket, "end").then(() => true),
      ]);
      if (ended) return { refusal: head };
      continue;
    }
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end !== -1 && head.startsWith("HTTP/1.1 200")) {
      const rest = Buffer.from(head.slice(end + 4), "latin1");
      if (rest.length > 0) socket.unshift(rest);
      return { socket };
    }
    if (end !== -1) {
      // A refusal: read it to the end.
      socket.setEncoding("latin1");
      for await (const more of socket) head += more as string;
      return { refusal: head };
    }
  }
}

/** An https.Agent whose connections are CONNECT tunnels through the proxy's unix socket. */
export function tunnelAgent(
  socketPath: string,
  options: https.AgentOptions & { onTunnel?: () => void } = {},
): https.Agent {
  const agent = new https.Agent(options);
  agent.createConnection = (
    connectOptions: tls.ConnectionOptions & { host?: string; port?: number },
    done,
  ) => {
    options.onTunnel?.();
    connectRaw(socketPath, `${connectOptions.host}:${connectOptions.port}`).then(
      (result) => {
        if ("refusal" in result) {
          done?.(
            new Error(`tunnel refused: ${result.refusal.split("\r\n")[0]}`),
            undefined as never,
          );
        } else {
          done?.(null, tls.connect({ ...connectOptions, socket: result.socket }));
        }
      },
      (error: Error) => done?.(error, undefined as never),
    );
    return undefined as never;
  };
  return agent;
}

/** Resolves when `predicate` holds for the text read so far from a stream. */
export function waitForText(
  stream: NodeJS.ReadableStream,
  predicate: (text: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (predicate(text)) {
        stream.off("data", onData);
        resolve(text);
      }
    };
    stream.on("data", onData);
    stream.once("error", reject);
  });
}

/** Sends, at once, a request for a host no rule allows; resolves to what came back when the proxy hung up. */
export function deniedRequest(socketPath: string): Promise<string> {
  const socket = net.connect(socketPath);
  socket.write(
    `GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\nProxy-Authorization: ${AUTH}\r\nConnection: close\r\n\r\n`,
  );
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  return once(socket, "close").then(() => text);
}
