import type { Hardening } from "../../../spec/hardening.js";
import type { DenyErrno } from "./abi.js";
import type { Syscall } from "./syscalls.js";

/**
 * What each hardening profile does to each system call it names; every other call is allowed.
 * The reasons are in README.md next to this file; keep the two in step.
 */

/** Argument checks, compiled in compile.ts; each one allows or denies with EPERM. */
export type ArgumentCheck =
  | "namespace-flags" // clone, unshare: no CLONE_NEW* flag in arg0
  | "personality" // only PER_LINUX (0) and the query 0xffffffff
  | "socket-family" // AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK with NETLINK_ROUTE only
  | "terminal-injection" // ioctl: not TIOCSTI or TIOCLINUX
  | "write-and-execute" // mmap, mprotect, pkey_mprotect: not PROT_WRITE and PROT_EXEC at once
  | "shared-memory-execute"; // shmat: not SHM_EXEC on a writable attachment

export type Treatment = { deny: DenyErrno } | { check: ArgumentCheck };

/** Denied with EPERM whatever the arguments. */
const DENIED: readonly Syscall[] = [
  // Reaching into other processes.
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  // Kernel attack surface that no coding agent needs.
  "bpf",
  "perf_event_open",
  "userfaultfd",
  // The kernel keyring is not namespaced: it would expose the user's session keys.
  "add_key",
  "request_key",
  "keyctl",
  // Mount-table changes, old and new API.
  "mount",
  "umount2",
  "pivot_root",
  "open_tree",
  "open_tree_attr",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  // Joining another process's namespaces.
  "setns",
  // Administration of the machine: all need capabilities the jail never has; denied outright so
  // a capability leak is not enough.
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "reboot",
  "swapon",
  "swapoff",
  "acct",
  "quotactl",
  "quotactl_fd",
  "lookup_dcookie",
  "iopl",
  "ioperm",
  "open_by_handle_at",
  // The kernel log leaks kernel addresses when dmesg_restrict is off.
  "syslog",
];

/** Denied with ENOSYS, which callers treat as "this kernel is too old" and fall back. */
const NOT_IMPLEMENTED: readonly Syscall[] = [
  // io_uring runs operations that seccomp never sees; libuv and others fall back to threads.
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  // clone3's flags sit in memory, out of the filter's reach; glibc falls back to clone.
  "clone3",
];

const CHECKED: Readonly<Partial<Record<Syscall, ArgumentCheck>>> = {
  clone: "namespace-flags",
  unshare: "namespace-flags",
  personality: "personality",
  socket: "socket-family",
  socketpair: "socket-family",
  ioctl: "terminal-injection",
};

/** W^X: no memory both writable and executable. JIT compilers (node, bun) need such pages. */
const WRITE_XOR_EXECUTE: Readonly<Partial<Record<Syscall, ArgumentCheck>>> = {
  mmap: "write-and-execute",
  mprotect: "write-and-execute",
  pkey_mprotect: "write-and-execute",
  shmat: "shared-memory-execute",
};

/**
 * `jit-runtime` is today the same filter as `default`: neither enforces W^X, and nothing else a
 * JIT needs is denied. The name lets an agent say it runs a JIT, whatever `default` becomes.
 */
const ENFORCES_WRITE_XOR_EXECUTE: Record<Hardening, boolean> = {
  default: false,
  "jit-runtime": false,
  strict: true,
};

export function syscallTreatments(profile: Hardening): ReadonlyMap<Syscall, Treatment> {
  const checks = ENFORCES_WRITE_XOR_EXECUTE[profile]
    ? { ...CHECKED, ...WRITE_XOR_EXECUTE }
    : CHECKED;
  return new Map<Syscall, Treatment>([
    ...DENIED.map((name): [Syscall, Treatment] => [name, { deny: "EPERM" }]),
    ...NOT_IMPLEMENTED.map((name): [Syscall, Treatment] => [name, { deny: "ENOSYS" }]),
    ...Object.entries(checks).map(([name, check]): [Syscall, Treatment] => [
      name as Syscall,
      { check: check as ArgumentCheck },
    ]),
  ]);
}
