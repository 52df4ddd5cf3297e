import { X509Certificate } from "node:crypto";
import { chmod } from "node:fs/promises";
import type { Server } from "node:http";
import { isIP } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import type { Rule } from "../spec/policy.js";
import { openAuditLog } from "./audit.js";
import { createProxyAuthCheck } from "./auth.js";
import { createCredentialSwap, type ResolvedCredential } from "./credentials/index.js";
import { createRouter, type Resolve, resolveWithSystem, type UpstreamMap } from "./dial.js";
import { compilePolicy } from "./policy/index.js";
import { createProxyServer } from "./server.js";
import { createCertificateAuthority } from "./tls/authority.js";

export type { AuditEntry } from "./audit.js";
export { proxyAuthorization } from "./auth.js";
export {
  CredentialError,
  makeDummy,
  type ResolvedCredential,
  type ResolvedOAuth,
  readCredentialSource,
  valueInFile,
} from "./credentials/index.js";
export type { Resolve, ResolvedAddress, UpstreamMap } from "./dial.js";
export { PolicyError } from "./policy/index.js";

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

/** Starts the run's policy proxy; rejects on a bad rule (PolicyError) or an unusable path. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
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
  const authority = createCertificateAuthority();
  const audit = await openAuditLog(options.auditPath);
  let trust: SecureContext | undefined;
  const upstreamTrust = () => {
    // Node's default store plus the extras. Passing all roots as `ca` would parse ~140 PEMs
    // (~40 ms); adding to a copy of the default store costs ~2 ms.
    if (trust === undefined) {
      trust = createSecureContext();
      for (const pem of options.extraUpstreamCaPems ?? []) trust.context.addCACert(pem);
    }
    return trust;
  };
  const proxy = createProxyServer({
    policy,
    route: createRouter({
      resolve: options.lookup ?? resolveWithSystem,
      namedAddresses: policy.namedAddresses,
      upstreams: options.upstreams ?? {},
    }),
    authority,
    audit,
    checkAuth,
    upstreamTrust,
    onDeny: options.onDeny,
    credentials:
      options.credentials === undefined || options.credentials.length === 0
        ? null
        : createCredentialSwap(options.credentials),
  });
  try {
    await listen(proxy.server, options.socketPath);
    await chmod(options.socketPath, 0o600);
  } catch (error) {
    await proxy.close().catch(() => {});
    await audit.close();
    throw error;
  }
  // Work the first request would otherwise pay for, done one step per turn of the event loop: Node's
  // root store (built on first use: ~35 ms, unless NODE_EXTRA_CA_CERTS made Node load it at startup),
  // the certificate path's first run (~5 ms), and the regex node:net compiles for the first host name
  // it connects to (~6 ms). It starts WARM_UP_DELAY_MS after the proxy does, once the jail is under way,
  // and stops when the proxy closes: a run that ends sooner (`--version`, `--help`) never pays for it.
  const warmUp = scheduleWarmUp([
    upstreamTrust,
    () => authority.contextFor("warm-up.invalid"),
    () => isIP("warm-up.invalid"),
    () => isIP("warm-up.invalid"),
  ]);
  return {
    caCertPem: authority.certPem,
    async close() {
      warmUp.cancel();
      await proxy.close();
      await audit.close();
    },
  };
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

/** Agents make their first request well after this (Node agents take 300+ ms just to boot). */
const WARM_UP_DELAY_MS = 50;

function scheduleWarmUp(steps: readonly (() => unknown)[]): { cancel(): void } {
  let pending = [...steps];
  const next = (): void => {
    const step = pending.shift();
    if (step === undefined) return;
    step();
    setImmediate(next).unref();
  };
  const timer = setTimeout(next, WARM_UP_DELAY_MS).unref();
  return {
    cancel() {
      clearTimeout(timer);
      pending = [];
    },
  };
}
