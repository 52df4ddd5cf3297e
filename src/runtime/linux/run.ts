import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { release, constants as systemConstants, tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import type { JailConfig } from "../../spec/jail-config.js";
import type { RunCredentials } from "../credentials.js";
import { JailSetupError } from "../errors.js";
import { limitsStep } from "../limits.js";
import type { NetworkPaths, RunNetwork } from "../network.js";
import { type HostFacts, type JailPlan, type PlannedMount, planJail } from "../plan.js";
import { PROXY_READY_FD, proxyEnv, proxySteps } from "./bridge.js";
import { type Bind, bwrapArgs, encodeArgs, jailInitPidOf } from "./bwrap.js";
import { jailEntry } from "./entry.js";
import { CA_BUNDLE_IN_ETC, type EtcEntry, etcEntries } from "./etc.js";
import { openPidMaxFd } from "./pid-max.js";
import { userNamespaceProblem } from "./preflight.js";
import { protectPaths } from "./protect.js";
import { hostArch } from "./seccomp/abi.js";
import { seccompFilter } from "./seccomp/prebuilt.js";
import { type Child, type ChildFd, spawnChild } from "./spawn.js";
import {
  kernelMountsOnDetachedTrees,
  LAUNCH_FD,
  STAGED_STORE_STEP,
  type StagerInputs,
  stagerArgv,
} from "./store-stager.js";
import { pathLines, planStoreView, type StoreView } from "./store-view.js";

/** A tmpfs on Linux systems, world-writable and sticky like /tmp. */
const SHARED_MEMORY = "/dev/shm";
const ARGS_FD = 3;
const STATUS_FD = 4;
const SECCOMP_FD = 5;
const PID_MAX_FD = 6;
/** The signals a run handles: until the jail has started by ending the run, then by forwarding them. */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
/** How long the agent gets to exit after a forwarded SIGTERM/SIGHUP before the jail is killed. */
const GRACE_MS = 3000;

function readSmallFile(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

function hostFacts(): HostFacts {
  const info = userInfo();
  const envHome = process.env.HOME;
  return {
    user: {
      name: info.username,
      uid: info.uid,
      gid: info.gid,
      home: envHome?.startsWith("/") ? envHome : info.homedir,
    },
    cwd: process.cwd(),
    env: process.env,
  };
}

function preflight(bwrap: string, uid: number): void {
  try {
    accessSync(bwrap, constants.X_OK);
  } catch {
    throw new JailSetupError(
      `bubblewrap is missing: ${bwrap} is not an executable; rebuild the wrapper (its Nix closure provides bwrap)`,
    );
  }
  const problem = userNamespaceProblem(readSmallFile, uid);
  if (problem !== null) throw new JailSetupError(`cannot create the jail: ${problem}`);
}

/**
 * A private directory for this run's files; removed on every exit path by the caller. It lives in
 * memory where there is a place for it: removing it from ext4 took 2–3 ms of every run.
 */
function makeRunDir(): string {
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  const base = runtimeDir?.startsWith("/")
    ? join(runtimeDir, "jailed")
    : existsSync(SHARED_MEMORY)
      ? SHARED_MEMORY
      : tmpdir();
  mkdirSync(base, { recursive: true, mode: 0o700 });
  return mkdtempSync(join(base, "jailed-run-"));
}

/**
 * Removes a directory and what it holds, never following a symlink. rmSync's recursive mode loads
 * and runs node's rimraf: ~1 ms of every run, for a directory of a few files.
 */
function removeTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeTree(path);
    else unlinkSync(path);
  }
  rmdirSync(dir);
}

/** Config paths are created on the host when missing, so the agent's state survives the run. */
function createMissing(mounts: readonly PlannedMount[]): void {
  for (const mount of mounts) {
    if (mount.create === "dir") mkdirSync(mount.path, { recursive: true, mode: 0o700 });
    if (mount.create === "file") {
      mkdirSync(dirname(mount.path), { recursive: true, mode: 0o700 });
      // An empty file is not valid JSON; agents reading a config file want an empty object.
      const initial = mount.path.endsWith(".json") ? "{}\n" : "";
      try {
        writeFileSync(mount.path, initial, { flag: "wx", mode: 0o600 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  }
}

function readStoreView(config: JailConfig, extraStorePaths: readonly string[]): StoreView {
  if (config.nixStore === "full") return { kind: "binds", paths: ["/nix/store"] };
  return planStoreView(readLines(config.storePaths), extraStorePaths, {
    dir: config.storeView,
    entries: () => readLines(join(config.storeView, "entries")),
  });
}

function readLines(path: string): string[] {
  return readFileSync(path, "utf8").split("\n").filter(Boolean);
}

function localtime(): Uint8Array | null {
  try {
    return readFileSync("/etc/localtime");
  } catch {
    return null;
  }
}

/** The run directory's files, named once. */
function runFiles(runDir: string) {
  return {
    root: runDir,
    etc: join(runDir, "etc"),
    /** The trust bundle in etc, to which a proxied run appends its CA. */
    caBundle: join(runDir, "etc", CA_BUNDLE_IN_ETC),
    bwrapArgs: join(runDir, "bwrap-args"),
    seccomp: join(runDir, "seccomp.bpf"),
    status: join(runDir, "status"),
    pidMax: join(runDir, "pid-max"),
    staging: join(runDir, "store"),
    storeClones: join(runDir, "store-clones"),
    storeEntries: join(runDir, "store-entries"),
    /** bwrap's command line, for the stager (store-stager.ts). */
    launch: join(runDir, "launch"),
  };
}

type RunFiles = ReturnType<typeof runFiles>;

function writeEtc(dir: string, entries: readonly EtcEntry[]): void {
  // Each directory once: several entries share one.
  for (const parent of new Set(entries.map((entry) => dirname(join(dir, entry.path))))) {
    mkdirSync(parent, { recursive: true });
  }
  for (const entry of entries) {
    const path = join(dir, entry.path);
    if ("symlink" in entry) symlinkSync(entry.symlink, path);
    else if ("copyOf" in entry) {
      // A kernel copy; it keeps the store's read-only mode, and the run appends to it.
      copyFileSync(entry.copyOf, path);
      chmodSync(path, 0o644);
    } else writeFileSync(path, entry.content, { mode: 0o644 });
  }
}

/**
 * The stager's argv for a staged store view. When it makes the mount points, the runtime writes it
 * the two lists (writeStagerLists) and makes the empty directory it mounts its tmpfs on (in its own
 * namespace only). `kernel`: the kernel's release (`uname -r`).
 */
function stagerArgvFor(
  config: JailConfig,
  store: Extract<StoreView, { kind: "built" | "made" }>,
  files: RunFiles,
  kernel: string,
): string[] {
  const run = {
    wholeTree: kernelMountsOnDetachedTrees(kernel),
    status: files.status,
    launch: files.launch,
  };
  const inputs: StagerInputs =
    store.kind === "built"
      ? {
          ...run,
          root: store.mountPoints,
          entries: store.entries,
          clones: store.clones,
          staging: null,
        }
      : {
          ...run,
          root: files.staging,
          entries: files.storeEntries,
          clones: files.storeClones,
          staging: files.staging,
        };
  return stagerArgv(config.tools.perl, hostArch(), inputs);
}

function writeStagerLists(store: StoreView, files: RunFiles): void {
  if (store.kind !== "made") return;
  mkdirSync(files.staging);
  writeFileSync(files.storeClones, pathLines(store.staged), { mode: 0o600 });
  writeFileSync(files.storeEntries, pathLines(store.direct), { mode: 0o600 });
}

/** What the run's own I/O found or made, for the jail's command line. */
interface RunInputs {
  files: RunFiles;
  pidMax: boolean;
  proxy: NetworkPaths | null;
  protection: readonly Bind[];
}

/**
 * bwrap's options (for `--args`) and its command line. Decides only; the files it names are written
 * by the caller.
 */
function jailLaunch(
  config: JailConfig,
  plan: JailPlan,
  store: StoreView,
  run: RunInputs,
): { options: string[]; bwrap: string[] } {
  const options = bwrapArgs({
    plan,
    store,
    stagingDir: run.files.staging,
    storeExtras: [],
    etcDir: run.files.etc,
    sh: config.tools.sh,
    env: config.tools.env,
    socketDirs: run.proxy === null ? [] : [run.proxy.socketDir],
    seccompFd: SECCOMP_FD,
    statusFd: STATUS_FD,
    pidMaxFd: run.pidMax ? PID_MAX_FD : null,
    protection: run.protection,
  });
  // The store first (socat is in it), then the limits, so socat lives under them as the agent
  // does, then the bridge and the proxy's word.
  const command = jailEntry(
    config.tools.sh,
    [
      ...(store.kind === "binds" ? [] : [STAGED_STORE_STEP]),
      limitsStep(plan.limits),
      ...(run.proxy === null ? [] : proxySteps(config.tools.socat, run.proxy.socketPath)),
    ],
    plan.argv,
  );
  return { options, bwrap: [config.tools.bwrap, "--args", String(ARGS_FD), "--", ...command] };
}

/**
 * Makes an empty file only this user can read and opens it for a child to read from a passed fd. It
 * is written (writeFileSync, which keeps the file) before the child reads it: a stager spawned
 * early holds it before the runtime knows what it will say.
 */
function privateFileFd(path: string): number {
  writeFileSync(path, "", { mode: 0o600, flag: "wx" });
  return openSync(path, "r");
}

/** The agent itself is the only child of bwrap's init (pid 1 of the jail's pid namespace). */
function agentPid(jailInitPid: number): number | null {
  const children = readSmallFile(`/proc/${jailInitPid}/task/${jailInitPid}/children`);
  const first = children?.split(" ")[0];
  return first ? Number(first) : null;
}

/**
 * bwrap's status goes to a file rather than a pipe: the runtime reads it only when it needs it, on
 * a signal and at the end, and a pipe would cost a stream and its events on every run.
 */
function jailInitPid(statusFile: string): number | null {
  return jailInitPidOf(readSmallFile(statusFile) ?? "");
}

/**
 * Kills the jail: its init, when bwrap has said which pid that is (the whole pid namespace goes
 * with it), and bwrap. Killing only bwrap while it sets the jail up can leave the jail behind, its
 * parent-death signal not yet set.
 */
function killJail(child: Child, statusFile: string): void {
  const initPid = jailInitPid(statusFile);
  if (initPid !== null) {
    try {
      process.kill(initPid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
  child.kill("SIGKILL");
}

/**
 * Signals for the agent go to the agent, which may want to save its state; the jail is killed only if it
 * does not exit in time. SIGINT from a terminal already reached the agent through the process group.
 */
function forwardSignals(child: Child, statusFile: string): () => void {
  const kill = () => killJail(child, statusFile);
  const forward = (signal: NodeJS.Signals): void => {
    if (signal === "SIGINT" && process.stdin.isTTY) return;
    const initPid = jailInitPid(statusFile);
    const target = initPid === null ? null : agentPid(initPid);
    if (target === null) {
      kill();
      return;
    }
    try {
      process.kill(target, signal);
    } catch {
      kill();
    }
    if (signal !== "SIGWINCH") setTimeout(kill, GRACE_MS).unref();
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return () => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  };
}

/** What a proxied run holds before its jail: the proxy's module, its token, the run's credentials. */
interface ProxiedRun {
  networkModule: typeof import("../network.js");
  token: string;
  credentials: RunCredentials;
}

// Only a proxied run loads the proxy (and its TLS code): `network = "none"` starts faster.
async function prepareProxiedRun(config: JailConfig, home: string): Promise<ProxiedRun> {
  const networkModule = await import("../network.js");
  return {
    networkModule,
    token: networkModule.newProxyToken(),
    credentials: await networkModule.resolveRunCredentials(config, home, process.env),
  };
}

/** The fds a jail's launcher gets, open on files of the run directory; see jailFdsOf for their order. */
interface JailFds {
  args: number;
  status: number;
  seccomp: number;
  pidMax: number | null;
}

function openJailFds(files: RunFiles, nproc: number, kernel: string): JailFds {
  return {
    args: privateFileFd(files.bwrapArgs),
    status: openSync(files.status, "wx", 0o600),
    seccomp: privateFileFd(files.seccomp),
    pidMax: openPidMaxFd(files.pidMax, nproc, kernel),
  };
}

function closeJailFds(fds: JailFds): void {
  closeSync(fds.args);
  closeSync(fds.status);
  closeSync(fds.seccomp);
  if (fds.pidMax !== null) closeSync(fds.pidMax);
}

/** The launcher's fds 0–7 (and the stager's word, LAUNCH_FD): what bwrapArgs and the steps expect. */
function jailFdsOf(fds: JailFds, readyChannel: boolean, stager: boolean): ChildFd[] {
  return [
    "inherit",
    "inherit",
    "inherit",
    fds.args,
    fds.status,
    fds.seccomp,
    fds.pidMax ?? "ignore",
    readyChannel ? "channel" : "ignore",
    ...(stager ? ["channel" as const] : []),
  ];
}

/** The run's setup: bwrap's command line, and for a proxied run what its proxy needs. */
interface JailSetup {
  bwrap: string[];
  proxy: (ProxiedRun & { paths: NetworkPaths }) | null;
}

/**
 * Writes the run's files for its jail and returns bwrap's command line; calls `onProtected` with the
 * undo of the protected paths' placeholders as soon as they exist.
 */
async function setUpJail(
  config: JailConfig,
  host: HostFacts,
  args: readonly string[],
  store: StoreView,
  files: RunFiles,
  pidMax: boolean,
  onProtected: (release: () => void) => void,
): Promise<JailSetup> {
  const proxied =
    config.network.mode === "proxy" ? await prepareProxiedRun(config, host.user.home) : null;
  const planned = planJail(
    config,
    host,
    args,
    proxied === null ? {} : { ...proxied.credentials.env, ...proxyEnv(proxied.token) },
  );
  const plan =
    proxied === null ? planned : proxied.networkModule.withDummies(planned, proxied.credentials);
  createMissing(plan.mounts);
  const protection = protectPaths(plan, files.root);
  onProtected(protection.release);
  writeEtc(
    files.etc,
    etcEntries(
      plan.user,
      { caBundle: config.tools.caBundle, addsCa: proxied !== null },
      localtime(),
    ),
  );
  const proxy =
    proxied === null
      ? null
      : { ...proxied, paths: proxied.networkModule.makeNetworkPaths(files.root, files.caBundle) };
  const launch = jailLaunch(config, plan, store, {
    files,
    pidMax,
    proxy: proxy?.paths ?? null,
    // Dummy credential files go over the real ones, after the config paths that hold them.
    protection: [
      ...protection.binds,
      ...(proxy === null ? [] : proxy.networkModule.writeDummyFiles(proxy.credentials, files.root)),
    ],
  });
  writeFileSync(files.bwrapArgs, encodeArgs(launch.options));
  writeFileSync(files.seccomp, seccompFilter(config.hardening, hostArch()));
  return { bwrap: launch.bwrap, proxy };
}

/**
 * Sets the run up and starts its jail: bwrap once its arguments are written, or, for a big closure,
 * the stager first, so that its clones (the longest part of such a start) overlap the setup, and
 * then its word to start bwrap. A stager that gets no word exits and starts nothing.
 */
async function startJail(
  config: JailConfig,
  host: HostFacts,
  args: readonly string[],
  store: StoreView,
  files: RunFiles,
  onProtected: (release: () => void) => void,
): Promise<{ child: Child; setup: JailSetup }> {
  const kernel = release();
  const fds = openJailFds(files, config.limits.nproc, kernel);
  const readyChannel = config.network.mode === "proxy";
  try {
    writeStagerLists(store, files);
    const stager =
      store.kind === "binds"
        ? null
        : spawnChild(
            stagerArgvFor(config, store, files, kernel),
            jailFdsOf(fds, readyChannel, true),
          );
    const word = stager?.channels.get(LAUNCH_FD) ?? null;
    try {
      const setup = await setUpJail(
        config,
        host,
        args,
        store,
        files,
        fds.pidMax !== null,
        onProtected,
      );
      if (stager === null) {
        return { child: spawnChild(setup.bwrap, jailFdsOf(fds, readyChannel, false)), setup };
      }
      writeFileSync(files.launch, encodeArgs(setup.bwrap), { mode: 0o600 });
      word?.write("go\n");
      word?.close();
      return { child: stager, setup };
    } catch (error) {
      word?.close();
      await stager?.exited;
      throw error;
    }
  } finally {
    closeJailFds(fds);
  }
}

/** Runs the agent in a bubblewrap jail; resolves to the exit code the caller should exit with. */
export async function runLinuxJail(
  config: JailConfig,
  args: readonly string[],
  extraStorePaths: readonly string[] = [],
): Promise<number> {
  const host = hostFacts();
  preflight(config.tools.bwrap, host.user.uid);
  const store = readStoreView(config, extraStorePaths);
  const runDir = makeRunDir();
  let releaseProtection = (): void => {};
  const cleanup = (): void => {
    releaseProtection();
    if (existsSync(runDir)) removeTree(runDir);
  };
  process.once("exit", cleanup);
  // Until the jail has started, a signal ends the run with its code, and exit cleans up: a stager
  // already started reads the end of its word's pipe and starts nothing.
  const endBeforeJail = (signal: NodeJS.Signals): void => {
    process.exit(128 + systemConstants.signals[signal]);
  };
  for (const signal of FORWARDED_SIGNALS) process.once(signal, endBeforeJail);
  const stopEndingOnSignals = (): void => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, endBeforeJail);
  };
  let network: RunNetwork | null = null;
  const closeNetwork = (): Promise<void> => network?.close() ?? Promise.resolve();
  try {
    const files = runFiles(runDir);
    const {
      child,
      setup: { proxy },
    } = await startJail(config, host, args, store, files, (release) => {
      releaseProtection = release;
    }).catch((error: unknown) => {
      stopEndingOnSignals();
      throw error;
    });
    const stopForwarding = forwardSignals(child, files.status);
    // Only now: a signal with no handler at all would kill the runtime outright.
    stopEndingOnSignals();
    const ready = child.channels.get(PROXY_READY_FD) ?? null;
    let agentReleased = proxy === null;
    // Before the proxy's ok, the jail's first process is told no, and exits 2 before the agent.
    const stopJail = (): void => {
      if (agentReleased) killJail(child, files.status);
      else ready?.close();
    };
    // A replaced credential file is no longer covered in the jail: stop everything at once.
    let replaced: string | null = null;
    const stopWatching =
      proxy === null
        ? () => {}
        : proxy.networkModule.watchCredentialFiles(proxy.credentials, (path) => {
            replaced ??= path;
            stopJail();
            void closeNetwork();
          });
    const { exited } = child;
    // The proxy starts while bubblewrap sets the jail up, and the agent waits for its `ok`; the
    // proxy's HTTP and TLS half loads after that (or never, if the jail ends first), and the
    // jail's connections wait until it has.
    try {
      if (proxy !== null) {
        network = await proxy.networkModule.startRunNetwork(
          config,
          proxy.paths,
          host.user.home,
          proxy.token,
          proxy.credentials,
        );
        // Unless the jail was told no meanwhile (a credential file was replaced).
        if (ready?.closed === false) {
          ready.write("ok\n");
          ready.close();
          agentReleased = true;
        }
        await Promise.race([network.serve(), exited]);
      }
    } catch (error) {
      stopJail();
      await exited;
      stopForwarding();
      stopWatching();
      throw error;
    }
    const { code, signal } = await exited;
    stopForwarding();
    stopWatching();
    if (replaced !== null) {
      throw new JailSetupError(
        `${replaced} was replaced on the host during the run, which uncovers the real file in the jail; the jail was stopped`,
      );
    }
    if (jailInitPid(files.status) === null) {
      throw new JailSetupError(
        "bubblewrap could not set up the jail (its own message is above); check that user namespaces are allowed for this user",
      );
    }
    return signal === null ? (code ?? 1) : 128 + systemConstants.signals[signal];
  } finally {
    await closeNetwork();
    cleanup();
    process.off("exit", cleanup);
  }
}

/**
 * A start's decisions without its effects, for the JailConfig a wrapper's build holds: the plan, the
 * store view, the jail's command line, the bytes of its argument file and its seccomp filter, and for
 * a proxied config the proxy's own (network.ts, warmUpRunNetwork). The build runs this before it
 * writes the wrapper's V8 code cache (load.ts), so that the cache holds these functions compiled
 * rather than only the bundle's top level: a start then compiles none of them, 2–4 ms of each here.
 * Reads what a start reads, writes nothing, starts nothing; the run's credentials are left out, as
 * reading one may run a command.
 */
export async function warmUpLinuxJail(config: JailConfig, args: readonly string[]): Promise<void> {
  const host = hostFacts();
  const network = config.network.mode === "proxy" ? await import("../network.js") : null;
  const plan = planJail(
    config,
    host,
    args,
    network === null ? {} : proxyEnv(network.newProxyToken()),
  );
  const store = readStoreView(config, []);
  etcEntries(plan.user, { caBundle: config.tools.caBundle, addsCa: network !== null }, localtime());
  const runDir = join(tmpdir(), "jailed-warm-up");
  const files = runFiles(runDir);
  const launch = jailLaunch(config, plan, store, {
    files,
    pidMax: true,
    proxy: network?.networkPaths(runDir, files.caBundle) ?? null,
    protection: [],
  });
  encodeArgs(launch.options);
  encodeArgs(launch.bwrap);
  if (store.kind !== "binds") stagerArgvFor(config, store, files, release());
  seccompFilter(config.hardening, hostArch());
  await network?.warmUpRunNetwork(config, host.user.home);
}
