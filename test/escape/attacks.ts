import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The escape suite's attacks, as data: each names a probe call (probes.py), what it must get inside
 * the jail, and how the control shows, outside the jail, that the attack works there or that its
 * target exists. SECURITY.md's table lists the same attacks (a test keeps the two in step).
 */

/** A probes.py call: [kind, ...arguments]. */
export type Call = [kind: string, ...args: (string | number | string[])[]];

/** What an attack is aimed at on this host; `project` and `outside` are the jail's, or the controls' copies. */
export interface Targets {
  home: string;
  project: string;
  outside: string;
  otherUser: string;
  storeFile: string;
  hostIp: string;
  hostIp6: string | null;
  resolver: string | null;
  tcpPort: number;
  udpPort: number;
  dnsPort: number;
  sockets: Record<"dbus" | "docker" | "wayland" | "x11" | "sshAgent", string>;
  abstract: string;
  x11Abstract: string;
  sleeper: { pid: number; address: number };
  /** The runtime (node) that runs the jail; for the controls, the test's own process. */
  runtimePid: number;
  /** A credential's real token in the host's environment (ESCAPE_SECRET_TOKEN). */
  secret: string;
  /** A credentials file (a config path) and the real tokens in it: the access token and another. */
  credentialFile: string;
  fileSecrets: string[];
  nofile: number;
  nproc: number;
}

/** The host while the jail runs, for controls that only make sense then. */
export interface Running {
  runtimePid: number;
  runDir: string;
  secret: string;
}

/**
 * How the control shows the attack works, or that its target exists, outside the jail: the same call
 * as the same user, or as root, another call, a look at the host, or at the host while the jail runs.
 */
export type Control =
  | { kind: "same" }
  | { kind: "root" }
  | { kind: "call"; call: (t: Targets) => Call }
  | { kind: "host"; check: (t: Targets) => boolean }
  | { kind: "running"; check: (r: Running) => boolean };

export interface Attack {
  /** The row in SECURITY.md. */
  name: string;
  call: (t: Targets) => Call;
  /** errno names the probe may get inside the jail; "none" is a search that found nothing. */
  expected: readonly string[];
  /** Why it fails, for the table. */
  because: string;
  control: Control;
  /** Only where the host has the target (an IPv6 address, a resolver). */
  needs?: (t: Targets) => boolean;
}

const same: Control = { kind: "same" };
const root: Control = { kind: "root" };
const exists = (path: (t: Targets) => string): Control => ({
  kind: "host",
  check: (t) => existsSync(path(t)),
});
const inRuntimeEnviron: Control = {
  kind: "running",
  check: (r) => readFileSync(`/proc/${r.runtimePid}/environ`, "utf8").includes(r.secret),
};

const NOT_THERE = "not in the jail's file system";
const READ_ONLY = "bound read-only";
const NO_NETWORK = "the jail's network namespace has only its own lo";

export const ATTACKS: readonly Attack[] = [
  // Reading what is not the jail's.
  {
    name: "read ~/.ssh/id_ed25519",
    call: (t) => ["read", `${t.home}/.ssh/id_ed25519`],
    expected: ["ENOENT"],
    because: `$HOME is an empty tmpfs; ${NOT_THERE}`,
    control: same,
  },
  {
    name: "read ~/.aws/credentials",
    call: (t) => ["read", `${t.home}/.aws/credentials`],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "read /etc/shadow",
    call: () => ["read", "/etc/shadow"],
    expected: ["ENOENT"],
    because: "/etc is synthesised: passwd, group, hosts, nsswitch.conf, the CA bundle",
    control: root,
  },
  {
    name: "read another user's file",
    call: (t) => ["read", t.otherUser],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "list a directory outside the allowed paths",
    call: (t) => ["list", t.outside],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "read a store path outside the closure",
    call: (t) => ["read", t.storeFile],
    expected: ["ENOENT"],
    because: "only the closure's store paths are bound",
    control: same,
  },
  {
    name: "read the Nix database (/nix/var/nix/db)",
    call: () => ["list", "/nix/var/nix/db"],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "list the host's network devices in /sys",
    call: () => ["list", "/sys/class/net"],
    expected: ["ENOENT"],
    because: "no /sys in the jail",
    control: same,
  },
  {
    name: "read kernel addresses from /proc/kallsyms",
    call: () => ["kernel-addresses"],
    expected: ["none"],
    because: "reads as 0 without CAP_SYSLOG in the host's user namespace",
    control: root,
  },
  {
    name: "find a credential's real token (env source) in the environment or any /proc/*/environ",
    call: (t) => ["environment", t.secret],
    expected: ["none"],
    because:
      "--clearenv, a dummy under sandboxEnv, and bwrap (pid 1 in the jail) starts with an empty environment",
    control: inRuntimeEnviron,
  },
  {
    name: "find a credential's real tokens (file source) in any file the jail can read",
    call: (t) => ["find-text", t.fileSecrets, "/"],
    expected: ["none"],
    because:
      "the jail's copy of the file (sandboxFile) holds dummies, every secret-named value replaced",
    control: {
      kind: "host",
      check: (t) => t.fileSecrets.every((s) => readFileSync(t.credentialFile, "utf8").includes(s)),
    },
  },
  {
    name: "read the runtime's /proc/<pid>/environ (the real token)",
    call: (t) => ["process-environment", t.runtimePid, t.secret],
    expected: ["ENOENT", "none"],
    because: "own pid namespace: host pids do not exist in the jail",
    control: inRuntimeEnviron,
  },
  {
    name: "read bubblewrap's options in the runtime's run directory",
    call: () => ["run-directory"],
    expected: ["ENOENT"],
    because: "only the proxy socket of the run directory is bound",
    control: { kind: "running", check: (r) => existsSync(join(r.runDir, "bwrap-args")) },
  },
  {
    name: "find the proxy's CA private key in any readable file",
    call: () => ["find-text", ["PRIVATE KEY"], "/"],
    expected: ["none"],
    because: "the key never leaves the runtime's memory; the jail gets the certificate only",
    control: { kind: "running", check: (r) => existsSync(`/proc/${r.runtimePid}/mem`) },
  },
  {
    name: "write a host-wide sysctl (kernel.printk_ratelimit)",
    call: () => ["sysctl-write", "/proc/sys/kernel/printk_ratelimit"],
    expected: ["EROFS"],
    because: "/proc/sys is bound read-only (uid 0 may otherwise write global sysctls)",
    control: root,
  },
  {
    name: "raise the jail's own pid_max",
    call: () => ["sysctl-write", "/proc/sys/kernel/pid_max"],
    expected: ["EROFS"],
    because: "/proc/sys is bound read-only",
    control: root,
  },
  // Writing where the jail may not.
  {
    name: "write /etc/passwd",
    call: () => ["write", "/etc/passwd"],
    expected: ["EROFS"],
    because: READ_ONLY,
    control: exists(() => "/etc/passwd"),
  },
  {
    name: "write into /nix/store",
    call: () => ["create", "/nix/store/jailed-escape"],
    expected: ["EROFS"],
    because: "the jail's root is read-only",
    control: exists(() => "/nix/store"),
  },
  {
    name: "write a file outside the allowed paths",
    call: (t) => ["create", `${t.outside}/planted`],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "plant ~/.ssh/authorized_keys",
    call: (t) => ["create", `${t.home}/.ssh/authorized_keys`],
    expected: ["ENOENT"],
    because: "$HOME is an empty tmpfs, thrown away with the jail",
    control: same,
  },
  {
    name: "write through .. out of the working directory",
    call: (t) => ["create", `${t.project}/../planted`],
    expected: ["EROFS"],
    because: "the directories above cwd are bubblewrap's, on a read-only root",
    control: same,
  },
  {
    name: "write through a symlink planted in cwd, pointing outside",
    call: (t) => ["symlink-write", `${t.outside}/target.txt`, `${t.project}/link-out`],
    expected: ["ENOENT"],
    because: "the link resolves in the jail's file system, where the target is not",
    control: same,
  },
  {
    name: "write .git/config through a symlink planted in cwd",
    call: (t) => ["symlink-write", `${t.project}/.git/config`, `${t.project}/link-config`],
    expected: ["EROFS"],
    because: READ_ONLY,
    control: same,
  },
  {
    name: "hard-link .git/config into cwd and write the link",
    call: (t) => ["link", `${t.project}/.git/config`, `${t.project}/config-link`],
    expected: ["EXDEV"],
    because: "a protected path is a mount of its own; links do not cross mounts",
    control: same,
  },
  {
    name: "hard-link a host file from outside cwd",
    call: (t) => ["link", `${t.home}/notes.txt`, `${t.project}/notes-link`],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  // Writes that turn into code (protectedPaths).
  {
    name: "plant a git hook (.git/hooks/pre-commit)",
    call: (t) => ["plant", `${t.project}/.git/hooks/pre-commit`],
    expected: ["EROFS"],
    because: READ_ONLY,
    control: same,
  },
  {
    name: "set core.fsmonitor in .git/config",
    call: (t) => ["write", `${t.project}/.git/config`],
    expected: ["EROFS"],
    because: READ_ONLY,
    control: same,
  },
  {
    name: "git config core.hooksPath",
    call: (t) => ["git", t.project, "config", "core.hooksPath", "/tmp/hooks"],
    expected: ["EBUSY"],
    because: "git's rename of config.lock over the bound config fails",
    control: same,
  },
  {
    name: "redirect git's config and hooks with .git/commondir",
    call: (t) => ["write", `${t.project}/.git/commondir`],
    expected: ["EROFS"],
    because: "a read-only placeholder holding `.` (git: the common dir is this one)",
    control: same,
  },
  {
    name: "move .git away to put a planted one in its place",
    call: (t) => ["rename", `${t.project}/.git`, `${t.project}/.git-moved`],
    expected: ["EBUSY"],
    because: ".git is bound onto itself: a mount point cannot be renamed",
    control: same,
  },
  {
    name: "plant .envrc (direnv)",
    call: (t) => ["write", `${t.project}/.envrc`],
    expected: ["EROFS"],
    because: "a read-only placeholder, removed after the run",
    control: same,
  },
  {
    name: "plant .mcp.json",
    call: (t) => ["write", `${t.project}/.mcp.json`],
    expected: ["EROFS"],
    because: "a read-only placeholder, removed after the run",
    control: same,
  },
  {
    name: "plant .vscode/tasks.json",
    call: (t) => ["plant", `${t.project}/.vscode/tasks.json`],
    expected: ["EROFS"],
    because: "a read-only placeholder directory, removed after the run",
    control: same,
  },
  {
    name: "plant .claude/commands/*.md",
    call: (t) => ["plant", `${t.project}/.claude/commands/evil.md`],
    expected: ["EROFS"],
    because: "a read-only placeholder directory, removed after the run",
    control: same,
  },
  // The network.
  {
    name: "TCP to a server on the host's loopback",
    call: (t) => ["tcp", "127.0.0.1", t.tcpPort],
    expected: ["ECONNREFUSED"],
    because: NO_NETWORK,
    control: same,
  },
  {
    name: "TCP to the host's own address",
    call: (t) => ["tcp", t.hostIp, t.tcpPort],
    expected: ["ENETUNREACH"],
    because: NO_NETWORK,
    control: same,
  },
  {
    name: "TCP over IPv6 to the host's ::1",
    call: (t) => ["tcp", "::1", t.tcpPort],
    expected: ["ECONNREFUSED"],
    because: NO_NETWORK,
    control: same,
  },
  {
    name: "TCP over IPv6 to the host's address",
    call: (t) => ["tcp", t.hostIp6 ?? "", t.tcpPort],
    expected: ["ENETUNREACH"],
    because: NO_NETWORK,
    control: same,
    needs: (t) => t.hostIp6 !== null,
  },
  {
    name: "UDP to a server on the host's loopback",
    call: (t) => ["udp", "127.0.0.1", t.udpPort],
    expected: ["ECONNREFUSED"],
    because: NO_NETWORK,
    control: same,
  },
  {
    name: "UDP to the host's own address",
    call: (t) => ["udp", t.hostIp, t.udpPort],
    expected: ["ENETUNREACH"],
    because: NO_NETWORK,
    control: same,
  },
  {
    name: "ICMP echo to the host (raw socket)",
    call: (t) => ["icmp", t.hostIp],
    expected: ["EPERM"],
    because: "no CAP_NET_RAW (every capability is dropped), and no route",
    control: root,
  },
  {
    name: "DNS query to a server on the host's loopback",
    call: (t) => ["dns", "127.0.0.1", t.dnsPort],
    expected: ["ECONNREFUSED"],
    because: NO_NETWORK,
    control: same,
  },
  {
    name: "DNS query to the host's resolver (/etc/resolv.conf)",
    call: (t) => ["dns", t.resolver ?? "", 53],
    expected: ["ENETUNREACH", "ECONNREFUSED"],
    because: NO_NETWORK,
    control: same,
    needs: (t) => t.resolver !== null,
  },
  {
    name: "CONNECT through the run's proxy to a host no rule allows",
    call: (t) => ["proxy-connect", "127.0.0.1", t.tcpPort],
    expected: ["none"],
    because: "the proxy answers 403: default deny, and loopback is refused unless a rule names it",
    control: { kind: "call", call: (t) => ["tcp", "127.0.0.1", t.tcpPort] },
  },
  {
    name: "connect to the Nix daemon's socket",
    call: () => ["unix", "/nix/var/nix/daemon-socket/socket"],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: exists(() => "/nix/var/nix/daemon-socket"),
  },
  {
    name: "connect to the D-Bus session bus ($XDG_RUNTIME_DIR/bus)",
    call: (t) => ["unix", t.sockets.dbus],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "connect to a Docker socket",
    call: (t) => ["unix", t.sockets.docker],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "connect to the X11 socket (/tmp/.X11-unix)",
    call: (t) => ["unix", t.sockets.x11],
    expected: ["ENOENT"],
    because: "/tmp is the jail's own tmpfs",
    control: same,
  },
  {
    name: "connect to X11's abstract socket",
    call: (t) => ["unix", t.x11Abstract],
    expected: ["ECONNREFUSED"],
    because: "abstract sockets belong to a network namespace",
    control: same,
  },
  {
    name: "connect to the Wayland socket",
    call: (t) => ["unix", t.sockets.wayland],
    expected: ["ENOENT"],
    because: NOT_THERE,
    control: same,
  },
  {
    name: "connect to ssh-agent ($SSH_AUTH_SOCK)",
    call: (t) => ["unix", t.sockets.sshAgent],
    expected: ["ENOENT"],
    because: `${NOT_THERE}, and SSH_AUTH_SOCK is not passed`,
    control: same,
  },
  {
    name: "connect to a host's abstract unix socket",
    call: (t) => ["unix", t.abstract],
    expected: ["ECONNREFUSED"],
    because: "abstract sockets belong to a network namespace",
    control: same,
  },
  {
    name: "open an AF_VSOCK socket (the hypervisor)",
    call: () => ["vsock"],
    expected: ["EPERM"],
    because: "seccomp: socket family",
    control: same,
  },
  {
    name: "list the host's sockets (NETLINK_SOCK_DIAG)",
    call: () => ["sock-diag"],
    expected: ["EPERM"],
    because: "seccomp: netlink protocol",
    control: same,
  },
  // Other processes, and the kernel.
  {
    name: "ptrace a host process",
    call: (t) => ["ptrace", t.sleeper.pid],
    expected: ["EPERM"],
    because: "seccomp; and host pids do not exist in the jail",
    control: same,
  },
  {
    name: "read a host process's memory (process_vm_readv)",
    call: (t) => ["process-vm", t.sleeper.pid, t.sleeper.address],
    expected: ["EPERM"],
    because: "seccomp; and host pids do not exist in the jail",
    control: same,
  },
  {
    name: "signal a host process",
    call: (t) => ["signal", t.sleeper.pid],
    expected: ["ESRCH"],
    because: "own pid namespace",
    control: same,
  },
  {
    name: "push input into a terminal (TIOCSTI)",
    call: () => ["tiocsti"],
    expected: ["EPERM"],
    because: "seccomp: ioctl command",
    control: same,
  },
  {
    name: "create a nested user namespace",
    call: () => ["userns"],
    expected: ["EPERM"],
    because: "seccomp: clone and unshare flags",
    control: same,
  },
  {
    name: "mount a file system",
    call: () => ["mount"],
    expected: ["EPERM"],
    because: "seccomp: mount family, and no capabilities",
    control: same,
  },
  {
    name: "set up io_uring",
    call: () => ["io-uring"],
    expected: ["ENOSYS"],
    because: "seccomp (io_uring's operations would bypass it)",
    control: same,
  },
  {
    name: "read the session keyring (keyctl)",
    call: () => ["keyring"],
    expected: ["EPERM"],
    because: "seccomp: the keyring is not namespaced",
    control: same,
  },
  // Limits.
  {
    name: "start more processes than limits.nproc",
    call: (t) => ["fork-many", t.nproc + 50],
    expected: ["EAGAIN"],
    because: "RLIMIT_NPROC, and the pid namespace's pid_max",
    control: same,
  },
  {
    name: "turn core dumps back on",
    call: () => ["raise-limit", "core", -1],
    expected: ["EPERM"],
    because: "RLIMIT_CORE is 0, soft and hard",
    control: same,
  },
  {
    name: "raise the open-file limit",
    call: (t) => ["raise-limit", "nofile", t.nofile + 1],
    expected: ["EPERM"],
    because: "RLIMIT_NOFILE is set soft and hard",
    control: same,
  },
];

/** Attacks with a jail run of their own (escape.test.ts), listed in SECURITY.md all the same. */
export const OWN_RUNS = [
  "a fork bomb",
  "repoint a worktree's .git file at a planted repository",
] as const;
