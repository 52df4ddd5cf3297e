import { describe, expect, it } from "vitest";
import { decode, type Instruction, OP } from "../../../src/runtime/linux/seccomp/bpf.js";
import {
  ARCHES,
  type Arch,
  AUDIT_ARCH,
  buildSeccompFilter,
  evaluate,
  hostArch,
  type Verdict,
} from "../../../src/runtime/linux/seccomp/index.js";
import { type Syscall, syscallNumber } from "../../../src/runtime/linux/seccomp/syscalls.js";
import { HARDENING_PROFILES, type Hardening } from "../../../src/spec/hardening.js";

// The contract, written out again rather than read from profile.ts.
const ALWAYS_EPERM: readonly Syscall[] = [
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "kexec_load",
  "kexec_file_load",
  "bpf",
  "perf_event_open",
  "userfaultfd",
  "add_key",
  "request_key",
  "keyctl",
  "mount",
  "umount2",
  "pivot_root",
  "move_mount",
  "open_tree",
  "open_tree_attr",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  "setns",
  "init_module",
  "finit_module",
  "delete_module",
  "swapon",
  "swapoff",
  "reboot",
  "acct",
  "quotactl",
  "quotactl_fd",
  "lookup_dcookie",
  "syslog",
  "open_by_handle_at",
  "iopl",
  "ioperm",
];
const ALWAYS_ENOSYS: readonly Syscall[] = [
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "clone3",
];

/** Numbers of calls the filter does not name, from the same kernel tables. */
const UNNAMED = {
  read: { x86_64: 0, aarch64: 63 },
  write: { x86_64: 1, aarch64: 64 },
  openat: { x86_64: 257, aarch64: 56 },
  close: { x86_64: 3, aarch64: 57 },
  futex: { x86_64: 202, aarch64: 98 },
  execve: { x86_64: 59, aarch64: 221 },
  munmap: { x86_64: 11, aarch64: 215 },
  getpid: { x86_64: 39, aarch64: 172 },
} as const;

const EPERM: Verdict = { action: "errno", errno: 1 };
const ENOSYS: Verdict = { action: "errno", errno: 38 };
const ALLOW: Verdict = { action: "allow" };
const KILL: Verdict = { action: "kill_process" };

const filters = new Map(
  HARDENING_PROFILES.flatMap((profile) =>
    ARCHES.map((arch) => [`${profile}/${arch}`, buildSeccompFilter(profile, arch)] as const),
  ),
);
const filter = (profile: Hardening, arch: Arch): Buffer =>
  filters.get(`${profile}/${arch}`) as Buffer;

function nr(name: Syscall, arch: Arch): number {
  const number = syscallNumber(name, arch);
  if (number === null) throw new Error(`${name} does not exist on ${arch}`);
  return number;
}

function call(
  profile: Hardening,
  arch: Arch,
  name: Syscall,
  ...args: (number | bigint)[]
): Verdict {
  return evaluate(filter(profile, arch), {
    nr: nr(name, arch),
    arch: AUDIT_ARCH[arch],
    args: args.map(BigInt),
  });
}

const CLONE_NEW = {
  NEWTIME: 0x80,
  NEWNS: 0x20000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
};
const SIGCHLD = 17;
/** What glibc's pthread_create passes to clone. */
const THREAD_FLAGS = 0x3d0f00;
const PROT = { NONE: 0, R: 1, W: 2, X: 4 };

for (const arch of ARCHES) {
  describe(`${arch}: denied in every profile`, () => {
    for (const profile of HARDENING_PROFILES) {
      it(`${profile}: the always-denied calls get their errno, whatever the arguments`, () => {
        const expected = [
          ...ALWAYS_EPERM.filter((name) => syscallNumber(name, arch) !== null).map(
            (name) => [name, EPERM] as const,
          ),
          ...ALWAYS_ENOSYS.map((name) => [name, ENOSYS] as const),
        ];
        for (const [name, verdict] of expected) {
          expect(call(profile, arch, name), name).toEqual(verdict);
          expect(call(profile, arch, name, 0, -1, 1n << 40n, 7), name).toEqual(verdict);
        }
      });
    }

    it("calls it does not name are allowed, with any arguments", () => {
      for (const [name, numbers] of Object.entries(UNNAMED)) {
        const verdict = evaluate(filter("strict", arch), {
          nr: numbers[arch],
          arch: AUDIT_ARCH[arch],
          args: [-1n, 7n, 7n, -1n, 0n, 0n],
        });
        expect(verdict, name).toEqual(ALLOW);
      }
    });
  });

  describe(`${arch}: argument checks`, () => {
    const in_ = (name: Syscall, ...args: (number | bigint)[]) =>
      call("default", arch, name, ...args);

    it("clone: plain fork and thread flags pass, any namespace flag is EPERM", () => {
      expect(in_("clone", SIGCHLD)).toEqual(ALLOW);
      expect(in_("clone", THREAD_FLAGS)).toEqual(ALLOW);
      for (const [flag, bit] of Object.entries(CLONE_NEW)) {
        expect(in_("clone", bit | SIGCHLD), flag).toEqual(EPERM);
      }
      // The kernel reads the low 32 bits: upper bits neither hide a flag nor add one.
      expect(in_("clone", 0xffff_ffff_0000_0000n | BigInt(CLONE_NEW.NEWUSER))).toEqual(EPERM);
      expect(in_("clone", 0x1_0000_0000n | BigInt(SIGCHLD))).toEqual(ALLOW);
    });

    it("unshare: CLONE_FILES/CLONE_FS pass, namespaces are EPERM", () => {
      expect(in_("unshare", 0x400)).toEqual(ALLOW);
      expect(in_("unshare", 0x200)).toEqual(ALLOW);
      for (const [flag, bit] of Object.entries(CLONE_NEW)) {
        expect(in_("unshare", bit), flag).toEqual(EPERM);
      }
    });

    it("personality: only PER_LINUX and the query pass", () => {
      expect(in_("personality", 0)).toEqual(ALLOW);
      expect(in_("personality", 0xffffffff)).toEqual(ALLOW);
      expect(in_("personality", 0x0040000)).toEqual(EPERM); // ADDR_NO_RANDOMIZE
      expect(in_("personality", 0x0400000)).toEqual(EPERM); // READ_IMPLIES_EXEC
      expect(in_("personality", 0x0008)).toEqual(EPERM); // PER_LINUX32
      expect(in_("personality", 0x1_0004_0000n)).toEqual(EPERM);
    });

    it("socket and socketpair: unix, inet, inet6 and NETLINK_ROUTE only", () => {
      for (const name of ["socket", "socketpair"] as const) {
        expect(in_(name, 1, 1, 0), `${name} AF_UNIX`).toEqual(ALLOW);
        expect(in_(name, 2, 1, 0), `${name} AF_INET`).toEqual(ALLOW);
        expect(in_(name, 10, 2, 0), `${name} AF_INET6`).toEqual(ALLOW);
        expect(in_(name, 16, 3, 0), `${name} NETLINK_ROUTE`).toEqual(ALLOW);
        for (const protocol of [4, 9, 12, 15, 16]) {
          expect(in_(name, 16, 3, protocol), `${name} netlink ${protocol}`).toEqual(EPERM);
        }
        for (const family of [0, 17, 38, 31, 40, 44]) {
          expect(in_(name, family, 1, 0), `${name} family ${family}`).toEqual(EPERM);
        }
        expect(in_(name, 0x1_0000_0028n, 1, 0), `${name} AF_VSOCK, upper bits`).toEqual(EPERM);
      }
    });

    it("ioctl: TIOCSTI and TIOCLINUX are EPERM on the low 32 bits of cmd", () => {
      expect(in_("ioctl", 0, 0x5401)).toEqual(ALLOW); // TCGETS
      expect(in_("ioctl", 1, 0x5413)).toEqual(ALLOW); // TIOCGWINSZ
      expect(in_("ioctl", 3, 0x5421)).toEqual(ALLOW); // FIONBIO
      expect(in_("ioctl", 0, 0x5412)).toEqual(EPERM);
      expect(in_("ioctl", 0, 0x541c)).toEqual(EPERM);
      expect(in_("ioctl", 0, 0x1_0000_5412n)).toEqual(EPERM);
      expect(in_("ioctl", 0, 0xffff_ffff_0000_541cn)).toEqual(EPERM);
    });
  });

  describe(`${arch}: W^X`, () => {
    const WX = PROT.W | PROT.X;
    const memoryCalls = ["mmap", "mprotect", "pkey_mprotect"] as const;

    it("strict denies PROT_WRITE|PROT_EXEC and nothing else", () => {
      for (const name of memoryCalls) {
        expect(call("strict", arch, name, 0, 4096, PROT.R | WX), name).toEqual(EPERM);
        expect(call("strict", arch, name, 0, 4096, WX), name).toEqual(EPERM);
        expect(call("strict", arch, name, 0, 4096, 0x1_0000_0000n | BigInt(WX)), name).toEqual(
          EPERM,
        );
        for (const prot of [PROT.NONE, PROT.R, PROT.R | PROT.W, PROT.R | PROT.X, PROT.X]) {
          expect(call("strict", arch, name, 0, 4096, prot), `${name} ${prot}`).toEqual(ALLOW);
        }
      }
    });

    it("strict denies executable writable System V shared memory", () => {
      const SHM_RDONLY = 0o10000;
      const SHM_EXEC = 0o100000;
      expect(call("strict", arch, "shmat", 1, 0, SHM_EXEC)).toEqual(EPERM);
      expect(call("strict", arch, "shmat", 1, 0, SHM_EXEC | SHM_RDONLY)).toEqual(ALLOW);
      expect(call("strict", arch, "shmat", 1, 0, 0)).toEqual(ALLOW);
      expect(call("default", arch, "shmat", 1, 0, SHM_EXEC)).toEqual(ALLOW);
    });

    it("default and jit-runtime allow RWX memory", () => {
      for (const profile of ["default", "jit-runtime"] as const) {
        for (const name of memoryCalls) {
          expect(call(profile, arch, name, 0, 4096, PROT.R | WX), name).toEqual(ALLOW);
        }
      }
    });

    it("jit-runtime is the default filter, byte for byte", () => {
      expect(filter("jit-runtime", arch).equals(filter("default", arch))).toBe(true);
    });
  });

  describe(`${arch}: architecture`, () => {
    it("kills a call made under any other architecture", () => {
      const other = arch === "x86_64" ? AUDIT_ARCH.aarch64 : AUDIT_ARCH.x86_64;
      for (const foreign of [AUDIT_ARCH.i386, other, 0x40000028 /* arm */, 0]) {
        for (const number of [0, 20, UNNAMED.getpid[arch]]) {
          expect(evaluate(filter("default", arch), { nr: number, arch: foreign })).toEqual(KILL);
        }
      }
    });
  });
}

describe("x86_64: x32 system calls", () => {
  const x86 = (number: number) =>
    evaluate(filter("default", "x86_64"), { nr: number, arch: AUDIT_ARCH.x86_64 });

  it("kills any number with the x32 bit, or above it", () => {
    expect(x86(0x40000000 | UNNAMED.getpid.x86_64)).toEqual(KILL);
    expect(x86(0x40000000 | 101)).toEqual(KILL);
    expect(x86(0x40000000 + 514)).toEqual(KILL); // x32 ioctl
    expect(x86(0x80000000)).toEqual(KILL);
  });

  it("lets -1 through: a tracer writes it to skip a call and the kernel answers ENOSYS", () => {
    expect(x86(-1)).toEqual(ALLOW);
  });
});

describe("aarch64: numbers past the table", () => {
  it("are allowed: the kernel itself answers ENOSYS", () => {
    const verdict = evaluate(filter("default", "aarch64"), {
      nr: 0x40000000 | 172,
      arch: AUDIT_ARCH.aarch64,
    });
    expect(verdict).toEqual(ALLOW);
  });
});

describe("every number, swept", () => {
  // With zero arguments every check passes (prot 0 is not W|X) except socket(0)/socketpair(0),
  // which ask for AF_UNSPEC.
  const deniedWithZeroArgs = (arch: Arch) =>
    new Map<number, Verdict>([
      ...[...ALWAYS_EPERM, "socket" as const, "socketpair" as const].flatMap((name) => {
        const number = syscallNumber(name, arch);
        return number === null ? [] : [[number, EPERM] as const];
      }),
      ...ALWAYS_ENOSYS.map((name) => [nr(name, arch), ENOSYS] as const),
    ]);

  for (const arch of ARCHES) {
    for (const profile of HARDENING_PROFILES) {
      it(`${profile}/${arch}: only the named calls are denied`, () => {
        const denied = deniedWithZeroArgs(arch);
        for (let number = 0; number < 1024; number++) {
          const verdict = evaluate(filter(profile, arch), { nr: number, arch: AUDIT_ARCH[arch] });
          expect(verdict, `nr ${number}`).toEqual(denied.get(number) ?? ALLOW);
        }
      });
    }
  }
});

/**
 * The kernel's action cache (kernel/seccomp.c, seccomp_is_const_allow): it walks the filter
 * knowing only nr and arch; a call that reaches "allow" without loading an argument is decided
 * once, at load time, and never runs the filter again.
 */
function constantAllow(program: readonly Instruction[], nr: number, arch: number): boolean {
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc] as Instruction;
    if (code === OP.LD_ABS) {
      if (k !== 0 && k !== 4) return false;
      a = k === 0 ? nr >>> 0 : arch;
    } else if (code === OP.RET) {
      return k === 0x7fff0000;
    } else if (code === OP.JA) {
      pc += k;
    } else if (code === OP.AND) {
      a = (a & k) >>> 0;
    } else {
      const taken =
        code === OP.JEQ
          ? a === k
          : code === OP.JGE
            ? a >= k
            : code === OP.JGT
              ? a > k
              : (a & k) !== 0;
      pc += taken ? jt : jf;
    }
  }
  return false;
}

describe("cost", () => {
  const checked: readonly Syscall[] = [
    "clone",
    "unshare",
    "personality",
    "socket",
    "socketpair",
    "ioctl",
  ];
  const strictOnly: readonly Syscall[] = ["mmap", "mprotect", "pkey_mprotect", "shmat"];

  for (const arch of ARCHES) {
    for (const profile of HARDENING_PROFILES) {
      it(`${profile}/${arch}: every allowed call without an argument check is cached by the kernel`, () => {
        const program = decode(filter(profile, arch));
        const runsFilter = new Set(
          [...checked, ...(profile === "strict" ? strictOnly : [])].map((name) => nr(name, arch)),
        );
        const denied = new Set(
          [...ALWAYS_EPERM, ...ALWAYS_ENOSYS].flatMap((name) => syscallNumber(name, arch) ?? []),
        );
        for (let number = 0; number < 1024; number++) {
          const cached = constantAllow(program, number, AUDIT_ARCH[arch]);
          expect(cached, `nr ${number}`).toBe(!runsFilter.has(number) && !denied.has(number));
        }
      });
    }

    it(`${arch}: programs stay short`, () => {
      for (const profile of HARDENING_PROFILES) {
        expect(decode(filter(profile, arch)).length).toBeLessThanOrEqual(100);
      }
    });
  }
});

describe("hostArch", () => {
  it("maps node's names to the kernel's", () => {
    expect(hostArch("x64")).toBe("x86_64");
    expect(hostArch("arm64")).toBe("aarch64");
  });

  it("refuses other CPUs clearly", () => {
    expect(() => hostArch("riscv64")).toThrow(/no filter for CPU architecture "riscv64"/);
    expect(() => hostArch("ia32")).toThrow(/supports x64 \(x86_64\) and arm64 \(aarch64\)/);
  });
});
