import type { Hardening } from "../../../spec/hardening.js";
import {
  AF,
  type Arch,
  AUDIT_ARCH,
  argLow,
  CLONE_NAMESPACE_FLAGS,
  ERRNO,
  NETLINK_ROUTE,
  PROT_EXEC,
  PROT_WRITE,
  SECCOMP_DATA,
  SECCOMP_RET,
  SHM_EXEC,
  SHM_RDONLY,
  TIOCLINUX,
  TIOCSTI,
  X32_SYSCALL_BIT,
} from "./abi.js";
import {
  and,
  assemble,
  ja,
  jeq,
  jge,
  jset,
  type Label,
  label,
  ld,
  ret,
  type Statement,
} from "./assemble.js";
import { encode } from "./bpf.js";
import { type ArgumentCheck, syscallTreatments, type Treatment } from "./profile.js";
import { SYSCALLS, type Syscall } from "./syscalls.js";

/**
 * The profile's filter for one architecture, as the bytes bubblewrap reads from `--seccomp FD`.
 *
 * Layout: check the architecture (anything else, including 32-bit entry on a 64-bit kernel, is
 * killed); on x86_64 kill x32 calls; then a binary search over the syscall number, whose leaves
 * return at once or run a short argument check. Every comparison on the way to "allow" depends
 * only on the number and architecture, so the kernel caches those verdicts (see bpf.ts).
 */
export function buildSeccompFilter(profile: Hardening, arch: Arch): Buffer {
  return encode(assemble(filterProgram(syscallTreatments(profile), arch)));
}

const ALLOW: Label = "allow";
const KILL: Label = "kill";
const DENY = { EPERM: "deny-eperm", ENOSYS: "deny-enosys" } as const;
const DISPATCH: Label = "dispatch";
const checkLabel = (check: ArgumentCheck): Label => `check-${check}`;

/** -1 is not a system call, but a tracer (strace fault injection, gdb) writes it to skip one. */
const SKIPPED_SYSCALL = 0xffffffff;

function filterProgram(treatments: ReadonlyMap<Syscall, Treatment>, arch: Arch): Statement[] {
  const routes = [...treatments]
    .flatMap(([name, treatment]): [number, Treatment][] => {
      const nr = SYSCALLS[name][arch];
      return nr === null ? [] : [[nr, treatment]];
    })
    .sort(([a], [b]) => a - b);
  const checks = [...new Set(routes.flatMap(([, t]) => ("check" in t ? [t.check] : [])))].sort();

  return [
    ld(SECCOMP_DATA.arch),
    jeq(AUDIT_ARCH[arch], "native", KILL),
    label("native"),
    ld(SECCOMP_DATA.nr),
    ...(arch === "x86_64"
      ? [jge(X32_SYSCALL_BIT, "x32", DISPATCH), label("x32"), jeq(SKIPPED_SYSCALL, DISPATCH, KILL)]
      : []),
    label(DISPATCH),
    ...binarySearch(ranges(routes.map(([nr, treatment]) => [nr, leafLabel(treatment)]))),
    // Argument checks jump forward to the verdicts, so they come first.
    ...checks.flatMap((check) => [label(checkLabel(check)), ...argumentCheck(check)]),
    label(ALLOW),
    ret(SECCOMP_RET.ALLOW),
    label(DENY.EPERM),
    ret(SECCOMP_RET.ERRNO | ERRNO.EPERM),
    label(DENY.ENOSYS),
    ret(SECCOMP_RET.ERRNO | ERRNO.ENOSYS),
    label(KILL),
    ret(SECCOMP_RET.KILL_PROCESS),
  ];
}

function leafLabel(treatment: Treatment): Label {
  return "deny" in treatment ? DENY[treatment.deny] : checkLabel(treatment.check);
}

interface Range {
  /** First syscall number of the range; it ends where the next one starts. */
  start: number;
  target: Label;
}

/** Cuts the number line [0, 2^32) into ranges with one target each; unnamed numbers are allowed. */
function ranges(routes: readonly [number, Label][]): Range[] {
  const out: Range[] = [];
  const extend = (start: number, target: Label) => {
    if (out.at(-1)?.target !== target) out.push({ start, target });
  };
  let next = 0;
  for (const [nr, target] of routes) {
    if (nr > next) extend(next, ALLOW);
    extend(nr, target);
    next = nr + 1;
  }
  extend(next, ALLOW);
  return out;
}

/**
 * A balanced tree of `jge` over the range starts: ceil(log2(ranges)) comparisons for any number
 * (about 7 for these tables), where a list of `jeq` would cost one per named syscall.
 */
function binarySearch(all: readonly Range[]): Statement[] {
  const range = (index: number): Range => all[index] as Range;
  const nameOf = (from: number, to: number): Label =>
    from === to ? range(from).target : `${DISPATCH}-${from}-${to}`;
  const out: Statement[] = [];
  const emit = (from: number, to: number): void => {
    if (from === to) return;
    const split = Math.ceil((from + to) / 2);
    out.push(
      label(nameOf(from, to)),
      jge(range(split).start, nameOf(split, to), nameOf(from, split - 1)),
    );
    emit(from, split - 1);
    emit(split, to);
  };
  emit(0, all.length - 1);
  return all.length === 1 ? [ja(range(0).target)] : out;
}

function argumentCheck(check: ArgumentCheck): Statement[] {
  const scope = checkLabel(check);
  switch (check) {
    // The kernel reads clone's flags and unshare's as their low 32 bits (lower_32_bits in clone,
    // and upper bits make unshare fail with EINVAL), where all CLONE_NEW* flags live. On clone the
    // CLONE_NEWTIME bit is inside the exit-signal byte, where no valid signal (<= 64) sets it.
    case "namespace-flags":
      return [ld(argLow(0)), jset(CLONE_NAMESPACE_FLAGS, DENY.EPERM, ALLOW)];
    // personality(unsigned int): 0 is PER_LINUX, 0xffffffff asks for the current persona.
    // Everything else changes it: READ_IMPLIES_EXEC would undo W^X, ADDR_NO_RANDOMIZE ASLR.
    case "personality":
      return [ld(argLow(0)), ...oneOf(scope, [0, 0xffffffff], ALLOW, DENY.EPERM)];
    // socket(int family, int type, int protocol), same order for socketpair. Netlink is kept for
    // NETLINK_ROUTE only: getifaddrs (node's os.networkInterfaces) and glibc's getaddrinfo use it,
    // and in the jail's own network namespace it shows just the loopback device.
    case "socket-family":
      return [
        ld(argLow(0)),
        ...oneOf(scope, [AF.UNIX, AF.INET, AF.INET6], ALLOW, `${scope}-netlink`),
        label(`${scope}-netlink`),
        jeq(AF.NETLINK, `${scope}-protocol`, DENY.EPERM),
        label(`${scope}-protocol`),
        ld(argLow(2)),
        jeq(NETLINK_ROUTE, ALLOW, DENY.EPERM),
      ];
    // ioctl(unsigned int fd, unsigned int cmd, …): the kernel drops cmd's upper 32 bits, so
    // comparing the low word catches 0x1_0000_5412 as TIOCSTI too.
    case "terminal-injection":
      return [ld(argLow(1)), ...oneOf(scope, [TIOCSTI, TIOCLINUX], DENY.EPERM, ALLOW)];
    // prot is arg2 of mmap, mprotect and pkey_mprotect; its flags are in the low word.
    case "write-and-execute":
      return [
        ld(argLow(2)),
        and(PROT_WRITE | PROT_EXEC),
        jeq(PROT_WRITE | PROT_EXEC, DENY.EPERM, ALLOW),
      ];
    // shmat(id, addr, int shmflg): SHM_EXEC maps the segment executable, and writable too
    // unless SHM_RDONLY.
    case "shared-memory-execute":
      return [ld(argLow(2)), and(SHM_EXEC | SHM_RDONLY), jeq(SHM_EXEC, DENY.EPERM, ALLOW)];
  }
}

/** Jumps to `ifAny` if A equals any of `values`, else to `ifNone`. */
function oneOf(scope: Label, values: readonly number[], ifAny: Label, ifNone: Label): Statement[] {
  return values.flatMap((value, index) => {
    const last = index === values.length - 1;
    const next = `${scope}-${index + 1}`;
    return [jeq(value, ifAny, last ? ifNone : next), ...(last ? [] : [label(next)])];
  });
}
