import { isIP } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import { setFlagsFromString } from "node:v8";
import type { AuditLog } from "./audit.js";
import type { CredentialSwap } from "./credentials/index.js";
import type { ResolvedCredential } from "./credentials/inject.js";
import { createRouter, resolveWithSystem } from "./dial.js";
import type { ProxyOptions, ProxyParts } from "./index.js";
import { createProxyServer, type ProxyServer } from "./server.js";
import { withHostContexts } from "./tls/authority.js";

/**
 * The proxy's options, and what prepareProxy (index.ts) made of them before the jail started, for
 * the half that answers clients.
 */
export interface Prepared extends ProxyOptions, ProxyParts {
  audit: AuditLog;
}

/**
 * V8's heap as a long-lived proxy wants it: kept near what is live rather than sized for speed.
 *
 * Under load V8 doubled the proxy's young generation up to its 32 MB cap (each scavenge keeps a
 * proxy's in-flight requests alive, which V8 reads as a need for room) and never gave it back: RSS
 * ~98 MB after 10,000 requests across 1,000 hosts, against ~77 MB kept at its starting size, with no
 * change in throughput or latency (bench/RESULTS.md).
 *
 * Its old generation, after each full collection, may grow to up to four times what survived before
 * the next; a proxy that opens many tunnels fills it with dead sockets whose OpenSSL state is freed
 * only when they are collected. At 10% growth RSS after those requests was 74–76 MiB where it had been
 * 78–85 MiB, with no change in decrypted throughput beyond the noise (bench/RESULTS.md).
 *
 * A flag on node's command line would do the same from the start, but any V8 flag there makes node
 * compile its own modules without their code cache, ~10 ms of every jailed start. Set here, V8 reads
 * them each time it would grow a generation, and only the builtin modules loaded later lose the
 * cache: node:dns, on the first connection, ~0.5 ms once.
 */
function keepHeapSmall(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
  setFlagsFromString("--heap-growing-percent=10");
}

/**
 * The proxy's HTTP and TLS half: node:http, node:https, node:tls and the code that answers
 * clients, loaded when a run starts serving (runtime/network.ts). Returns a server that listens
 * nowhere: the caller hands it the connections its socket accepts.
 */
export async function serveProxy(prepared: Prepared): Promise<ProxyServer> {
  const credentials = await credentialSwapFor(prepared.credentials);
  keepHeapSmall();
  let trust: SecureContext | undefined;
  const upstreamTrust = () => {
    // Node's default store plus the extras. Passing all roots as `ca` would parse ~140 PEMs
    // (~40 ms); adding to a copy of the default store costs ~2 ms.
    if (trust === undefined) {
      trust = createSecureContext();
      for (const pem of prepared.extraUpstreamCaPems ?? []) trust.context.addCACert(pem);
    }
    return trust;
  };
  const authority = withHostContexts(prepared.ca);
  const proxy = createProxyServer({
    policy: prepared.policy,
    route: createRouter({
      resolve: prepared.lookup ?? resolveWithSystem,
      namedAddresses: prepared.policy.namedAddresses,
      upstreams: prepared.upstreams ?? {},
    }),
    authority,
    audit: prepared.audit,
    checkAuth: prepared.checkAuth,
    upstreamTrust,
    onDeny: prepared.onDeny,
    credentials,
  });
  // Work the first request would otherwise pay for, done one step per turn of the event loop: the
  // upstream trust store (~2 ms: a copy of Node's root store, with the extras added), the certificate
  // path's first run (~5 ms), and the regex node:net compiles for the first host name it connects to
  // (~6 ms). It starts WARM_UP_DELAY_MS after the proxy does, once the jail is under way, and stops
  // when the proxy closes: a run that ends sooner (`--version`, `--help`) never pays for it.
  const warmUp = scheduleWarmUp([
    upstreamTrust,
    () => authority.contextFor("warm-up.invalid"),
    () => isIP("warm-up.invalid"),
    () => isIP("warm-up.invalid"),
  ]);
  return {
    server: proxy.server,
    async close() {
      warmUp.cancel();
      await proxy.close();
    },
  };
}

/**
 * The credential code loads only for a run with credentials: with it come node:zlib (compressed
 * bodies) and node:fs/promises (an OAuth login's save), ~4 ms of the load an early first
 * connection waits for (bench/RESULTS.md).
 */
async function credentialSwapFor(
  credentials: readonly ResolvedCredential[] | undefined,
): Promise<CredentialSwap | null> {
  if (credentials === undefined || credentials.length === 0) return null;
  const { createCredentialSwap } = await import("./credentials/index.js");
  return createCredentialSwap(credentials);
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
