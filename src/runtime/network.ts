import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { kernelRandomBytes } from "../proxy/credentials/random.js";
import type { PreparedProxy, ProxyOptions, RunningProxy, UpstreamMap } from "../proxy/index.js";
import type { JailConfig } from "../spec/jail-config.js";
import type { Rule } from "../spec/policy.js";
import type { RunCredentials } from "./credentials.js";
import { JailSetupError } from "./errors.js";

export {
  resolveRunCredentials,
  watchCredentialFiles,
  withDummies,
  writeDummyFiles,
} from "./credentials.js";

/**
 * Where the run's proxy lives, made in the run directory before the jail so that bubblewrap can bind
 * them while the proxy starts: the socket appears in socketDir once the proxy listens, and the CA
 * bundle, a copy of nixpkgs' until then, gets the run's CA appended in place (the same file, so the
 * jail's bind shows it).
 */
export interface NetworkPaths {
  socketDir: string;
  socketPath: string;
  caBundle: string;
}

/** `caBundle`: the trust bundle in the jail's /etc (etc.ts, etcEntries), on the host. */
export function networkPaths(runDir: string, caBundle: string): NetworkPaths {
  const socketDir = join(runDir, "proxy");
  return { socketDir, socketPath: join(socketDir, "proxy.sock"), caBundle };
}

export function makeNetworkPaths(runDir: string, caBundle: string): NetworkPaths {
  const paths = networkPaths(runDir, caBundle);
  mkdirSync(paths.socketDir, { mode: 0o700 });
  return paths;
}

/** The run's proxy, listening. */
export interface RunNetwork {
  /**
   * Starts answering the jail's connections, which wait until then: at the first one, or
   * SERVE_DELAY_MS after the call, whichever is sooner; never once close() is called.
   */
  serve(): Promise<void>;
  /** Closes the proxy and its connections, served or not yet; the same promise on every call. */
  close(): Promise<void>;
}

/** Where a run's audit log goes: $XDG_STATE_HOME/jailed/runs/<time>-<name>-<id>.jsonl. */
export function auditPathFor(
  env: NodeJS.ProcessEnv,
  home: string,
  name: string,
  now: Date,
): string {
  const state = env.XDG_STATE_HOME?.startsWith("/")
    ? env.XDG_STATE_HOME
    : join(home, ".local", "state");
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  return join(
    state,
    "jailed",
    "runs",
    `${stamp}-${name}-${kernelRandomBytes(3).toString("hex")}.jsonl`,
  );
}

type TestOptions = Pick<ProxyOptions, "upstreams" | "extraUpstreamCaPems" | "lookup">;

/**
 * Test-only stand-ins for the Internet, since tests run offline: JAILED_TEST_UPSTREAMS maps names to
 * loopback servers (unchecked: they play public hosts), JAILED_TEST_RESOLVE answers names like DNS
 * would (checked like any answer), and JAILED_TEST_UPSTREAM_CA names a PEM file the proxy trusts
 * upstream. Only the user who starts the run can set them; the jail cannot.
 */
function testOptions(env: NodeJS.ProcessEnv): TestOptions {
  const options: TestOptions = {};
  if (env.JAILED_TEST_UPSTREAMS) {
    options.upstreams = JSON.parse(env.JAILED_TEST_UPSTREAMS) as UpstreamMap;
  }
  if (env.JAILED_TEST_UPSTREAM_CA) {
    options.extraUpstreamCaPems = [readFileSync(env.JAILED_TEST_UPSTREAM_CA, "utf8")];
  }
  if (env.JAILED_TEST_RESOLVE) {
    const answers = JSON.parse(env.JAILED_TEST_RESOLVE) as Record<string, string[]>;
    options.lookup = async (name) =>
      (answers[name] ?? []).map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
  }
  return options;
}

/**
 * The run's rules: the policy file's first, then the inline ones (`network.rules`/`allow`,
 * `--allow-host`), so a file's deny rules hold against a broader inline allow. Inline rules are
 * compiled on their own first, so an error in one names its index in `network.rules`.
 */
async function rulesOf(config: JailConfig): Promise<Rule[]> {
  if (config.network.mode !== "proxy") return [];
  const { policyFile, rules } = config.network;
  if (policyFile === null) return rules;
  const { compilePolicy } = await import("../proxy/policy/index.js");
  compilePolicy(rules);
  let text: string;
  try {
    text = readFileSync(policyFile, "utf8");
  } catch (error) {
    throw new JailSetupError(
      `cannot read the policy file ${policyFile}: ${(error as Error).message}`,
    );
  }
  // The TOML parser loads only for a run with a policy file.
  const { PolicyFileError, parsePolicyFile } = await import("../proxy/policy/file.js");
  try {
    return [...parsePolicyFile(text, policyFile), ...rules];
  } catch (error) {
    if (error instanceof PolicyFileError) throw new JailSetupError(error.message);
    throw error;
  }
}

/** One line on the terminal per distinct denied host, outside the jail. */
function denialNotifier(): (host: string, message: string) => void {
  const seen = new Set<string>();
  return (host, message) => {
    if (seen.has(host)) return;
    seen.add(host);
    process.stderr.write(`${message}\n`);
  };
}

/**
 * Loading the proxy's answering half takes ~10 ms of CPU. Done while the agent starts, it takes a
 * core from the agent (a jailed `codex --version` ended 3–4 ms later on 2 cores), and a run that
 * makes no request never needs it. Agents make their first request well after this (node agents
 * take 300+ ms to boot), so the wait costs their first request nothing; a sooner one starts the load.
 */
const SERVE_DELAY_MS = 50;

function delay(ms: number): Promise<void> {
  // Unreferenced: a run whose jail has exited does not wait for it.
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The run's random proxy credential: a process outside the jail that finds the socket cannot use it. */
export function newProxyToken(): string {
  return kernelRandomBytes(24).toString("hex");
}

/**
 * The proxy's start without its files and socket, for a wrapper's code cache (run.ts,
 * warmUpLinuxJail): the rules read and compiled, a CA made, the audit log's path named.
 */
export async function warmUpRunNetwork(config: JailConfig, home: string): Promise<void> {
  auditPathFor(process.env, home, config.name, new Date());
  const { makeProxyParts } = await import("../proxy/index.js");
  makeProxyParts({ token: newProxyToken(), rules: await rulesOf(config) });
}

export async function startRunNetwork(
  config: JailConfig,
  paths: NetworkPaths,
  home: string,
  token: string,
  credentials: RunCredentials,
): Promise<RunNetwork> {
  const auditPath = auditPathFor(process.env, home, config.name, new Date());
  mkdirSync(join(auditPath, ".."), { recursive: true, mode: 0o700 });
  // Loaded here, after the jail is spawned, so that it overlaps bubblewrap's setup.
  const { PolicyError, prepareProxy } = await import("../proxy/index.js");
  let proxy: PreparedProxy;
  try {
    proxy = await prepareProxy({
      socketPath: paths.socketPath,
      token,
      rules: await rulesOf(config),
      auditPath,
      onDeny: denialNotifier(),
      credentials: credentials.resolved,
      ...testOptions(process.env),
    });
  } catch (error) {
    if (error instanceof PolicyError)
      throw new JailSetupError(`bad network policy: ${error.message}`);
    throw error;
  }
  appendFileSync(paths.caBundle, `\n${proxy.caCertPem}`);
  let served: Promise<RunningProxy> | null = null;
  let closed: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    const running = served === null ? null : await served.catch(() => null);
    await (running ?? proxy).close();
  };
  return {
    async serve() {
      await Promise.race([proxy.firstConnection, delay(SERVE_DELAY_MS)]);
      if (closed !== null) return;
      served ??= proxy.serve();
      await served;
    },
    close() {
      closed ??= close();
      return closed;
    },
  };
}
