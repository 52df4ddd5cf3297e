import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";
import type { JailConfig } from "../../spec/jail-config.js";
import type { RunCredentials } from "../credentials.js";
import { JailSetupError } from "../errors.js";
import { limitsStep } from "../limits.js";
import type { RunNetwork } from "../network.js";
import { type HostFacts, type JailPlan, type PlannedMount, planJail } from "../plan.js";
import { PROXY_READY_FD, proxyEnv, proxySteps } from "./bridge.js";
import { bwrapArgs, encodeArgs, jailInitPidOf } from "./bwrap.js";
import { jailEntry } from "./entry.js";
import { synthesiseEtc } from "./etc.js";
import { openPidMaxFd } from "./pid-max.js";
import { userNamespaceProblem } from "./preflight.js";
import { protectPaths } from "./protect.js";
import { hostArch } from "./seccomp/abi.js";
import { seccompFilter } from "./seccomp/prebuilt.js";
import { STAGED_STORE_STEP, type StagerInputs, stagerArgv } from "./store-stager.js";
import { pathLines, planStoreView, type StoreView } from "./store-view.js";

/** A tmpfs on Linux systems, world-writable and sticky like /tmp. */
const SHARED_MEMORY = "/dev/shm";
const ARGS_FD = 3;
const STATUS_FD = 4;
const SECCOMP_FD = 5;
const PID_MAX_FD = 6;
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

function localtime(): string | null {
  try {
    return realpathSync("/etc/localtime");
  } catch {
    return null;
  }
}

function writeEtc(runDir: string, plan: JailPlan): Record<string, string> {
  const dir = join(runDir, "etc");
  mkdirSync(dir);
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(synthesiseEtc(plan.user))) {
    files[name] = join(dir, name);
    writeFileSync(files[name], text, { mode: 0o644 });
  }
  return files;
}

/**
 * What the stager reads. When it makes the mount points, the runtime writes it the two lists and
 * makes the empty directory it mounts its tmpfs on (in its own namespace only).
 */
function stagerInputs(
  store: Extract<StoreView, { kind: "built" | "made" }>,
  runDir: string,
  staging: string,
  status: string,
): StagerInputs {
  if (store.kind === "built") return { status, clones: store.clones, make: null };
  mkdirSync(staging);
  const writeList = (name: string, paths: readonly string[]) => {
    const file = join(runDir, name);
    writeFileSync(file, pathLines(paths), { mode: 0o600 });
    return file;
  };
  return {
    status,
    clones: writeList("store-clones", store.staged),
    make: { staging, entries: writeList("store-entries", store.direct) },
  };
}

/** Writes a file only this user can read and opens it for a child to read from a passed fd. */
function privateFileFd(path: string, contents: Uint8Array): number {
  writeFileSync(path, contents, { mode: 0o600 });
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
function killJail(child: ChildProcess, statusFile: string): void {
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
function forwardSignals(child: ChildProcess, statusFile: string): () => void {
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
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
  for (const signal of signals) process.on(signal, forward);
  return () => {
    for (const signal of signals) process.off(signal, forward);
  };
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
};

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

/** Runs the agent in a bubblewrap jail; resolves to the exit code the caller should exit with. */
export async function runLinuxJail(
  config: JailConfig,
  args: readonly string[],
  extraStorePaths: readonly string[] = [],
): Promise<number> {
  const host = hostFacts();
  preflight(config.tools.bwrap, host.user.uid);
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
  const runDir = makeRunDir();
  let releaseProtection = (): void => {};
  const cleanup = (): void => {
    releaseProtection();
    if (existsSync(runDir)) removeTree(runDir);
  };
  process.once("exit", cleanup);
  let network: RunNetwork | null = null;
  const closeNetwork = (): Promise<void> => network?.close() ?? Promise.resolve();
  try {
    createMissing(plan.mounts);
    const protection = protectPaths(plan, runDir);
    releaseProtection = protection.release;
    const pidMaxFd = openPidMaxFd(join(runDir, "pid-max"), plan.limits.nproc);
    const proxy =
      proxied === null
        ? null
        : { ...proxied, paths: proxied.networkModule.makeNetworkPaths(runDir) };
    const store = readStoreView(config, extraStorePaths);
    const stagingDir = join(runDir, "store");
    const statusFile = join(runDir, "status");
    const argv = bwrapArgs({
      plan,
      store,
      stagingDir,
      storeExtras: [],
      etcFiles: writeEtc(runDir, plan),
      caBundle: proxy?.paths.caBundle ?? config.tools.caBundle,
      localtime: localtime(),
      sh: config.tools.sh,
      env: config.tools.env,
      socketDirs: proxy === null ? [] : [proxy.paths.socketDir],
      seccompFd: SECCOMP_FD,
      statusFd: STATUS_FD,
      pidMaxFd: pidMaxFd === null ? null : PID_MAX_FD,
      // Dummy credential files go over the real ones, after the config paths that hold them.
      protection: [
        ...protection.binds,
        ...(proxy === null ? [] : proxy.networkModule.writeDummyFiles(proxy.credentials, runDir)),
      ],
    });
    // The store first (socat is in it), then the limits, so socat lives under them as the agent
    // does, then the bridge and the proxy's word.
    const command = jailEntry(
      config.tools.sh,
      [
        ...(store.kind === "binds" ? [] : [STAGED_STORE_STEP]),
        limitsStep(plan.limits),
        ...(proxy === null ? [] : proxySteps(config.tools.socat, proxy.paths.socketPath)),
      ],
      plan.argv,
    );
    const argsFd = privateFileFd(join(runDir, "bwrap-args"), encodeArgs(argv));
    const seccompFd = privateFileFd(
      join(runDir, "seccomp.bpf"),
      seccompFilter(config.hardening, hostArch()),
    );
    const bwrap = [config.tools.bwrap, "--args", String(ARGS_FD), "--", ...command];
    const [program, ...programArgs] =
      store.kind === "binds"
        ? bwrap
        : stagerArgv(
            config.tools.perl,
            hostArch(),
            stagerInputs(store, runDir, stagingDir, statusFile),
            bwrap,
          );
    // A replaced credential file is no longer covered in the jail: stop everything at once.
    let replaced: string | null = null;
    let stopJail = (): void => {};
    const stopWatching =
      proxy === null
        ? () => {}
        : proxy.networkModule.watchCredentialFiles(proxy.credentials, (path) => {
            replaced ??= path;
            stopJail();
            void closeNetwork();
          });
    const statusFd = openSync(statusFile, "wx", 0o600);
    const child = spawn(program as string, programArgs, {
      stdio: [
        "inherit",
        "inherit",
        "inherit",
        argsFd,
        statusFd,
        seccompFd,
        pidMaxFd ?? "ignore",
        proxy === null ? "ignore" : "pipe",
      ],
      // bwrap stays in the jail as its pid 1, so its environment is readable there as
      // /proc/1/environ: it gets none (the jail's own comes through --setenv).
      env: {},
    });
    closeSync(argsFd);
    closeSync(statusFd);
    closeSync(seccompFd);
    if (pidMaxFd !== null) closeSync(pidMaxFd);
    const stopForwarding = forwardSignals(child, statusFile);
    const ready = proxy === null ? null : (child.stdio as unknown as Writable[])[PROXY_READY_FD];
    // A jail that died before reading the word closes its end: its exit says why, not EPIPE here.
    ready?.on("error", () => {});
    let agentReleased = proxy === null;
    // Before the proxy's ok, the jail's first process is told no, and exits 2 before the agent.
    stopJail = () => {
      if (agentReleased) killJail(child, statusFile);
      else ready?.end();
    };
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    // The proxy starts while bubblewrap sets the jail up, and the agent waits for its `ok`; the
    // proxy's HTTP and TLS half loads after that, and the jail's connections wait until it has.
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
        if (ready?.writableEnded === false) {
          ready.end("ok\n");
          agentReleased = true;
        }
        await network.serve();
      }
    } catch (error) {
      stopJail();
      await exited.catch(() => {});
      stopForwarding();
      stopWatching();
      throw error;
    }
    const [code, signal] = await exited;
    stopForwarding();
    stopWatching();
    if (replaced !== null) {
      throw new JailSetupError(
        `${replaced} was replaced on the host during the run, which uncovers the real file in the jail; the jail was stopped`,
      );
    }
    if (jailInitPid(statusFile) === null) {
      throw new JailSetupError(
        "bubblewrap could not set up the jail (its own message is above); check that user namespaces are allowed for this user",
      );
    }
    return signal === null ? (code ?? 1) : 128 + (SIGNAL_NUMBERS[signal] ?? 0);
  } finally {
    await closeNetwork();
    cleanup();
    process.off("exit", cleanup);
  }
}
