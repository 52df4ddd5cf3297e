/**
 * Kernel ABI values the filter is written against, from the UAPI headers (linux/audit.h,
 * linux/seccomp.h, asm-generic/errno*.h, linux/sched.h, linux/socket.h, linux/netlink.h,
 * asm-generic/ioctls.h, asm-generic/mman-common.h, linux/shm.h). They are the same on
 * x86_64 and aarch64.
 */

export const ARCHES = ["x86_64", "aarch64"] as const;
export type Arch = (typeof ARCHES)[number];

/** `seccomp_data.arch`: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
export const AUDIT_ARCH = {
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
  /** Not filtered for: 32-bit code (int 0x80 on x86_64) reports this and is killed. */
  i386: 0x40000003,
} as const;

/**
 * Byte offsets into `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }`.
 * Both architectures are little-endian (big-endian aarch64 has another AUDIT_ARCH value and is
 * killed), so the low 32 bits of args[i] are at 16 + 8i and the high bits 4 bytes later.
 */
export const SECCOMP_DATA = { nr: 0, arch: 4, instructionPointer: 8, args: 16, size: 64 } as const;
export const argLow = (index: number): number => SECCOMP_DATA.args + 8 * index;

export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

export const ERRNO = { EPERM: 1, ENOSYS: 38 } as const;
export type DenyErrno = keyof typeof ERRNO;

/** x32 system calls are x86_64 numbers with this bit set; they share AUDIT_ARCH_X86_64. */
export const X32_SYSCALL_BIT = 0x40000000;

/** CLONE_NEWTIME | NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
export const CLONE_NAMESPACE_FLAGS =
  0x00000080 |
  0x00020000 |
  0x02000000 |
  0x04000000 |
  0x08000000 |
  0x10000000 |
  0x20000000 |
  0x40000000;

export const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16 } as const;
export const NETLINK_ROUTE = 0;

export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;

export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const SHM_RDONLY = 0o10000;
export const SHM_EXEC = 0o100000;

/** BPF_MAXINSNS: the kernel refuses longer filters. */
export const MAX_INSTRUCTIONS = 4096;

/** The filter for the architecture this process runs on. */
export function hostArch(nodeArch: string = process.arch): Arch {
  if (nodeArch === "x64") return "x86_64";
  if (nodeArch === "arm64") return "aarch64";
  throw new Error(
    `seccomp: no filter for CPU architecture "${nodeArch}": the Linux jail supports x64 (x86_64) and arm64 (aarch64)`,
  );
}
