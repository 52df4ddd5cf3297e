import type { Arch } from "./abi.js";

/**
 * Numbers of the system calls the filter and the store stager (store-stager.ts) name, from the kernel's
 * arch/x86/entry/syscalls/syscall_64.tbl (x86_64) and include/uapi/asm-generic/unistd.h (aarch64,
 * which uses the generic table). `null`: the call does not exist on that architecture.
 * Numbers from 424 up are shared by every architecture.
 */
export const SYSCALLS = {
  ioctl: { x86_64: 16, aarch64: 29 },
  mmap: { x86_64: 9, aarch64: 222 },
  mprotect: { x86_64: 10, aarch64: 226 },
  shmat: { x86_64: 30, aarch64: 196 },
  socket: { x86_64: 41, aarch64: 198 },
  socketpair: { x86_64: 53, aarch64: 199 },
  clone: { x86_64: 56, aarch64: 220 },
  ptrace: { x86_64: 101, aarch64: 117 },
  syslog: { x86_64: 103, aarch64: 116 },
  personality: { x86_64: 135, aarch64: 92 },
  pivot_root: { x86_64: 155, aarch64: 41 },
  acct: { x86_64: 163, aarch64: 89 },
  mount: { x86_64: 165, aarch64: 40 },
  umount2: { x86_64: 166, aarch64: 39 },
  swapon: { x86_64: 167, aarch64: 224 },
  swapoff: { x86_64: 168, aarch64: 225 },
  reboot: { x86_64: 169, aarch64: 142 },
  iopl: { x86_64: 172, aarch64: null },
  ioperm: { x86_64: 173, aarch64: null },
  init_module: { x86_64: 175, aarch64: 105 },
  delete_module: { x86_64: 176, aarch64: 106 },
  quotactl: { x86_64: 179, aarch64: 60 },
  lookup_dcookie: { x86_64: 212, aarch64: 18 },
  kexec_load: { x86_64: 246, aarch64: 104 },
  add_key: { x86_64: 248, aarch64: 217 },
  request_key: { x86_64: 249, aarch64: 218 },
  keyctl: { x86_64: 250, aarch64: 219 },
  mknodat: { x86_64: 259, aarch64: 33 },
  unshare: { x86_64: 272, aarch64: 97 },
  perf_event_open: { x86_64: 298, aarch64: 241 },
  open_by_handle_at: { x86_64: 304, aarch64: 265 },
  setns: { x86_64: 308, aarch64: 268 },
  process_vm_readv: { x86_64: 310, aarch64: 270 },
  process_vm_writev: { x86_64: 311, aarch64: 271 },
  finit_module: { x86_64: 313, aarch64: 273 },
  kexec_file_load: { x86_64: 320, aarch64: 294 },
  bpf: { x86_64: 321, aarch64: 280 },
  userfaultfd: { x86_64: 323, aarch64: 282 },
  pkey_mprotect: { x86_64: 329, aarch64: 288 },
  io_uring_setup: { x86_64: 425, aarch64: 425 },
  io_uring_enter: { x86_64: 426, aarch64: 426 },
  io_uring_register: { x86_64: 427, aarch64: 427 },
  open_tree: { x86_64: 428, aarch64: 428 },
  move_mount: { x86_64: 429, aarch64: 429 },
  fsopen: { x86_64: 430, aarch64: 430 },
  fsconfig: { x86_64: 431, aarch64: 431 },
  fsmount: { x86_64: 432, aarch64: 432 },
  fspick: { x86_64: 433, aarch64: 433 },
  clone3: { x86_64: 435, aarch64: 435 },
  mount_setattr: { x86_64: 442, aarch64: 442 },
  quotactl_fd: { x86_64: 443, aarch64: 443 },
  open_tree_attr: { x86_64: 467, aarch64: 467 },
} as const satisfies Record<string, Record<Arch, number | null>>;

export type Syscall = keyof typeof SYSCALLS;

export function syscallNumber(name: Syscall, arch: Arch): number | null {
  return SYSCALLS[name][arch];
}
