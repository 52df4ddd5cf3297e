import { shellWord } from "./entry.js";

/** Where the jail's first process reads the runtime's word that the proxy is ready. */
export const PROXY_READY_FD = 7;

/**
 * The bash lines, for the jail's first process (entry.ts), that wait for the runtime's `ok`: the
 * runtime starts the proxy while bubblewrap sets the jail up, and the agent must not start before
 * the proxy listens and the run's CA is in the jail's trust bundle. Without it the step exits
 * quietly: the runtime says why the proxy did not start.
 */
export const PROXY_READY_STEP = [
  `IFS= read -r ready <&${PROXY_READY_FD}; exec ${PROXY_READY_FD}<&-`,
  `[[ $ready == ok ]] || exit 2`,
].join("\n");

/** The port the bridge listens on inside the jail; the jail's network namespace is its own, so any port is free. */
export const BRIDGE_PORT = 3128;

/** Proxy variables for the jail: every common spelling, so curl, git, node, Bun, Go and Rust clients all use it. */
export function proxyEnv(token: string): Record<string, string> {
  const url = `http://jailed:${token}@127.0.0.1:${BRIDGE_PORT}`;
  const noProxy = "localhost,127.0.0.1,::1";
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    ALL_PROXY: url,
    NO_PROXY: noProxy,
    http_proxy: url,
    https_proxy: url,
    all_proxy: url,
    no_proxy: noProxy,
  };
}

/**
 * How much the bridge moves per read and write (socat's default is 8 KB). The proxy's writes to
 * the bridge wait on its unix socket's send buffer, which is small (net.core.wmem_default, ~208 KB)
 * and which Node cannot enlarge; a bridge that empties it in one read keeps the proxy writing. An
 * HTTPS download through the decrypting proxy and the bridge went from 41–45% of direct to 46–56%
 * with 1 MB (bench/proxy/throughput.mjs). It costs nothing to a small exchange: a read returns
 * what is there.
 */
const BRIDGE_BUFFER_BYTES = 1024 * 1024;

/** socat's arguments for the bridge: 127.0.0.1:port (in the jail) to the proxy's unix socket. */
export function bridgeArgs(socketPath: string, port = BRIDGE_PORT): string[] {
  return [
    "-lf",
    "/dev/null",
    "-b",
    String(BRIDGE_BUFFER_BYTES),
    `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${socketPath}`,
  ];
}

/** How long the jail waits for socat to listen, once the proxy is ready, before it gives up. */
const BRIDGE_START_SECONDS = 30;

/**
 * The bash lines, for the jail's first process (entry.ts), of a proxied run: start the bridge (socat
 * from the closure: 127.0.0.1:PORT -> the proxy's unix socket), wait for the runtime's `ok`, then wait
 * until the bridge listens, so the agent's first request never races it. socat starts before the
 * `ok` so that its start (2–5 ms: it links OpenSSL) overlaps the proxy's; it connects to the socket
 * only when a client connects to it, and nothing in the jail does before the agent. socat's own log
 * goes nowhere: a client hanging up is routine, and the proxy's audit log records every exchange.
 *
 * The wait reads /proc/net/sockstat with bash builtins only (the closure may hold nothing else). The
 * jail's network namespace is new, socat is the only thing in it that makes a TCP socket before the
 * agent, and the kernel counts a TCP socket as in use from its listen(): "TCP: inuse 1" is the bridge
 * listening. A look costs ~25 µs. /proc/net/tcp, which names the port, costs ~1.5 ms a look (the
 * kernel walks its whole TCP hash table for it), and socat usually starts listening after the `ok`:
 * the agent started ~2 ms after socat listened (perf trace of jailed-codex --version). A bridge that
 * has exited is not waited for.
 */
export function proxySteps(socat: string, socketPath: string): string[] {
  const start = `${[socat, ...bridgeArgs(socketPath)].map(shellWord).join(" ")} & bridge=$!`;
  const listening = `listening='*TCP: inuse [1-9]*' sockstat= SECONDS=0
while ((SECONDS < ${BRIDGE_START_SECONDS})); do
  [[ $sockstat == $listening ]] && break
  kill -0 $bridge 2>/dev/null || break
  IFS= read -r -d '' sockstat </proc/net/sockstat
done
[[ $sockstat == $listening ]] || { echo "jailed: the bridge to the proxy did not start" >&2; exit 2; }`;
  return [start, PROXY_READY_STEP, listening];
}
