import type { JailPlan } from "../plan.js";
import type { StoreView } from "./store-view.js";

const PID_MAX = "/proc/sys/kernel/pid_max";

export interface Bind {
  source: string;
  dest: string;
  readOnly: boolean;
}

/** Host-side inputs bwrap needs beyond the plan: what to bind and where the run's files are. */
export interface BwrapInputs {
  plan: JailPlan;
  /** The closure (or ["/nix/store"] for nixStore = "full"), and how it is bound (store-view.ts). */
  store: StoreView;
  /** The stager's directory on the host, bound at /nix/store when it makes the mount points. */
  stagingDir: string;
  /** Extra paths bound for nixStore = "full" (the daemon socket); empty otherwise. */
  storeExtras: readonly string[];
  /** The directory on the host that is the jail's /etc (etc.ts, etcEntries). */
  etcDir: string;
  sh: string;
  env: string;
  /**
   * Host directories bound read-only in the jail at the same path: the proxy's, whose socket appears
   * in it once the proxy listens (connecting to a socket is not a write).
   */
  socketDirs: readonly string[];
  seccompFd: number | null;
  statusFd: number;
  /**
   * fd to read the jail's pid_max from (limits.ts: pidNamespaceMax), or null on a kernel where pid_max
   * is global (kernelHasPidNamespaceMax).
   */
  pidMaxFd: number | null;
  /** Binds that keep protected paths in cwd from being written (protect.ts), applied after cwd. */
  protection: readonly Bind[];
}

/**
 * bubblewrap's options, passed through `--args FD` so that neither the closure list nor the environment
 * shows in the host's process list (bwrap takes the command itself only from its real argv). Order matters: bwrap applies mounts in sequence,
 * so the tmpfs home comes before the config paths bound into it, then the working directory, then the
 * protected paths inside it.
 */
export function bwrapArgs(inputs: BwrapInputs): string[] {
  const { plan } = inputs;
  const args: string[] = [
    "--unshare-all",
    "--unshare-user",
    "--die-with-parent",
    "--clearenv",
    // bwrap leaves root (and only root) every capability inside the jail's user namespace.
    "--cap-drop",
    "ALL",
    "--json-status-fd",
    String(inputs.statusFd),
    "--hostname",
    "jailed",
    "--uid",
    String(plan.user.uid),
    "--gid",
    String(plan.user.gid),
    "--dev",
    "/dev",
    "--proc",
    "/proc",
  ];
  if (inputs.pidMaxFd !== null) args.push("--file", String(inputs.pidMaxFd), PID_MAX);
  // Sysctls resolve in the reader's own namespaces, so this is the jail's /proc/sys, read-only: the jail
  // cannot raise its pid_max, nor (as uid 0, which the kernel lets write global sysctls) the host's.
  args.push("--ro-bind", "/proc/sys", "/proc/sys", "--tmpfs", "/tmp");
  if (inputs.store.kind === "binds") {
    for (const path of inputs.store.paths) args.push("--ro-bind", path, path);
  } else {
    const mountPoints =
      inputs.store.kind === "built" ? inputs.store.mountPoints : inputs.stagingDir;
    args.push("--ro-bind", mountPoints, "/nix/store");
    for (const path of inputs.store.direct) args.push("--ro-bind", path, path);
  }
  for (const path of inputs.storeExtras) args.push("--bind", path, path);
  args.push("--ro-bind", inputs.etcDir, "/etc");
  args.push("--symlink", inputs.sh, "/bin/sh", "--symlink", inputs.env, "/usr/bin/env");
  args.push("--tmpfs", plan.user.home);
  for (const mount of plan.mounts) {
    // A path the user chose not to create is bound only when it exists.
    const flag = mount.mode === "rw" ? "--bind" : "--ro-bind";
    args.push(mount.create === "none" ? `${flag}-try` : flag, mount.path, mount.path);
  }
  if (plan.cwdMode !== "none") {
    args.push(plan.cwdMode === "rw" ? "--bind" : "--ro-bind", plan.cwd, plan.cwd);
  }
  for (const bind of inputs.protection) {
    args.push(bind.readOnly ? "--ro-bind" : "--bind", bind.source, bind.dest);
  }
  for (const path of inputs.socketDirs) args.push("--ro-bind", path, path);
  // The root tmpfs and the directories bwrap made in it become read-only; each mount keeps its own mode.
  args.push("--remount-ro", "/", "--chdir", plan.cwd);
  for (const [name, value] of Object.entries(plan.env)) args.push("--setenv", name, value);
  if (inputs.seccompFd !== null) args.push("--seccomp", String(inputs.seccompFd));
  return args;
}

/** bwrap's `--args` format: each argument terminated by NUL. */
export function encodeArgs(args: readonly string[]): Buffer {
  for (const arg of args) {
    if (arg.includes("\0")) throw new Error(`argument contains NUL: ${JSON.stringify(arg)}`);
  }
  return Buffer.from(args.map((arg) => `${arg}\0`).join(""), "utf8");
}

/**
 * The pid (on the host) of bwrap's init in the jail, from what bwrap wrote to its status file
 * (`--json-status-fd`, one JSON object a line); null before bwrap has set the jail up, or if it never
 * did.
 */
export function jailInitPidOf(status: string): number | null {
  for (const line of status.split("\n")) {
    try {
      const message = JSON.parse(line) as { "child-pid"?: unknown };
      if (typeof message["child-pid"] === "number") return message["child-pid"];
    } catch {
      // An empty or partly written line.
    }
  }
  return null;
}
