import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSeccompFilter, hostArch } from "../../src/runtime/linux/seccomp/index.js";
import type { Hardening } from "../../src/spec/hardening.js";

/**
 * The filters under a real kernel: bubblewrap loads them from fd 3, and probes make the system
 * calls. Every denial is shown twice: the call works without the filter (the control), and fails
 * with the exact errno with it. The probes are Python (ctypes), run twice: as root, where the
 * controls have every capability a call could want, and as an unprivileged user in a user
 * namespace, the way the jail runs. Calls with a glibc wrapper go through it, so their numbers
 * come from glibc, not from the filter's tables.
 */

const PROBES = String.raw`
import ctypes, json, os, platform, signal, sys

libc = ctypes.CDLL(None, use_errno=True)
for name in ("syscall", "ptrace", "personality", "mmap", "shmat"):
    getattr(libc, name).restype = ctypes.c_long
L = ctypes.c_long
P = ctypes.c_void_p

# Calls glibc has no wrapper for, by number.
NR = {
    "x86_64": {"bpf": 321, "perf_event_open": 298, "io_uring_setup": 425, "keyctl": 250,
               "userfaultfd": 323, "clone3": 435},
    "aarch64": {"bpf": 280, "perf_event_open": 241, "io_uring_setup": 425, "keyctl": 219,
                "userfaultfd": 282, "clone3": 435},
}[platform.machine()]

def raw(name, *args):
    return libc.syscall(L(NR[name]), *args)

def anonymous(prot):
    return libc.mmap(None, L(4096), prot, 0x22, -1, L(0))  # MAP_PRIVATE | MAP_ANONYMOUS

def mprotect_after_rw(prot):
    return libc.mprotect(P(anonymous(3)), L(4096), prot)

def pty_ioctl(request):
    _, tty = os.openpty()
    os.setsid()  # make the pty our controlling terminal: TIOCSTI needs that without CAP_SYS_ADMIN
    libc.ioctl(tty, ctypes.c_ulong(0x540E), L(0))  # TIOCSCTTY
    buffer = ctypes.create_string_buffer(b"x", 64)  # TCGETS fills a struct termios
    return libc.ioctl(tty, ctypes.c_ulong(request), buffer)

def int80_getpid():
    code = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"  # mov eax, 20 (i386 getpid); int 0x80; ret
    page = anonymous(3)
    ctypes.memmove(page, code, len(code))
    libc.mprotect(P(page), L(4096), 5)
    return ctypes.CFUNCTYPE(ctypes.c_int)(page)()

def process_vm_readv_self():
    class IoVec(ctypes.Structure):
        _fields_ = [("base", P), ("len", ctypes.c_size_t)]
    src, dst = ctypes.create_string_buffer(b"secret"), ctypes.create_string_buffer(6)
    local, remote = IoVec(ctypes.addressof(dst), 6), IoVec(ctypes.addressof(src), 6)
    return libc.process_vm_readv(os.getpid(), ctypes.byref(local), L(1), ctypes.byref(remote), L(1), L(0))

def bpf_array_map():
    attr = ctypes.create_string_buffer(bytes([2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]), 128)
    return raw("bpf", L(0), attr, L(128))  # BPF_MAP_CREATE

def perf_software_clock():
    attr = ctypes.create_string_buffer(128)
    attr[0:8] = (1).to_bytes(4, "little") + (128).to_bytes(4, "little")  # PERF_TYPE_SOFTWARE, size
    attr[40] = 0x60  # exclude_kernel | exclude_hv: allowed unprivileged at perf_event_paranoid 2
    return raw("perf_event_open", attr, L(0), L(-1), L(-1), L(0))

def fork_and_wait():
    pid = os.fork()  # glibc's fork is clone(SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid

def shmat_exec():
    shmid = libc.shmget(0, L(4096), 0o1700)  # IPC_PRIVATE, IPC_CREAT | 0700
    address = libc.shmat(shmid, None, 0o100000)  # SHM_EXEC
    libc.shmctl(shmid, 0, None)  # IPC_RMID
    return address

PROBES = {
    "ptrace(PTRACE_TRACEME)": lambda: libc.ptrace(L(0), L(0), None, None),
    "unshare(CLONE_NEWUSER)": lambda: libc.unshare(0x10000000),
    "unshare(CLONE_FILES)": lambda: libc.unshare(0x400),
    "socket(AF_VSOCK)": lambda: libc.socket(40, 1, 0),
    "socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)": lambda: libc.socket(16, 3, 15),
    "socket(AF_NETLINK, NETLINK_ROUTE)": lambda: libc.socket(16, 3, 0),
    "socket(AF_INET)": lambda: libc.socket(2, 1, 0),
    "socket(AF_UNIX)": lambda: libc.socket(1, 1, 0),
    "socketpair(AF_UNIX)": lambda: libc.socketpair(1, 1, 0, (ctypes.c_int * 2)()),
    "io_uring_setup": lambda: raw("io_uring_setup", L(1), ctypes.create_string_buffer(120)),
    "keyctl(KEYCTL_GET_KEYRING_ID)": lambda: raw("keyctl", L(0), L(-3), L(1)),
    "bpf(BPF_MAP_CREATE)": bpf_array_map,
    "perf_event_open": perf_software_clock,
    "userfaultfd": lambda: raw("userfaultfd", L(0o2000000 | 1)),  # O_CLOEXEC | UFFD_USER_MODE_ONLY
    "clone3": lambda: raw("clone3", None, L(0)),
    "fork": fork_and_wait,
    "process_vm_readv": process_vm_readv_self,
    "personality(ADDR_NO_RANDOMIZE)": lambda: libc.personality(L(0x0040000)),
    "personality(query)": lambda: libc.personality(L(0xFFFFFFFF)),
    "ioctl(TIOCSTI)": lambda: pty_ioctl(0x5412),
    "ioctl(0x1_0000_5412)": lambda: pty_ioctl(0x1_0000_5412),
    "ioctl(TCGETS)": lambda: pty_ioctl(0x5401),
    "mount(tmpfs)": lambda: libc.mount(b"none", b"/tmp", b"tmpfs", L(0), None),
    "setns": lambda: libc.setns(os.open("/proc/self/ns/uts", os.O_RDONLY), 0),
    "klogctl(SIZE_BUFFER)": lambda: libc.klogctl(10, None, 0),
    "mmap(RW)": lambda: anonymous(3),
    "mmap(RWX)": lambda: anonymous(7),
    "mprotect(RX)": lambda: mprotect_after_rw(5),
    "mprotect(RWX)": lambda: mprotect_after_rw(7),
    "shmat(SHM_EXEC)": shmat_exec,
    "syscall(-1)": lambda: libc.syscall(L(-1)),
    "x32 getpid": lambda: libc.syscall(L(0x40000000 | 39)),
    "int 0x80 getpid": int80_getpid,
}

def run(name):
    """One probe per child process, so a probe that is killed, traced or unshared stays alone."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        result = PROBES[name]()
        os.write(write, json.dumps({"ret": result, "errno": ctypes.get_errno()}).encode())
        os._exit(0)
    os.close(write)
    out = os.read(read, 4096)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": signal.Signals(os.WTERMSIG(status)).name}
    return json.loads(out)

print(json.dumps({name: run(name) for name in sys.argv[1:]}))
`;

type Outcome = { ret: number; errno: number } | { signal: string };

const EPERM = 1;
const EINVAL = 22;
const ENOSYS = 38;

const DENIED: readonly (readonly [probe: string, errno: number])[] = [
  ["ptrace(PTRACE_TRACEME)", EPERM],
  ["unshare(CLONE_NEWUSER)", EPERM],
  ["socket(AF_VSOCK)", EPERM],
  ["socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)", EPERM],
  ["io_uring_setup", ENOSYS],
  ["keyctl(KEYCTL_GET_KEYRING_ID)", EPERM],
  ["bpf(BPF_MAP_CREATE)", EPERM],
  ["perf_event_open", EPERM],
  ["userfaultfd", EPERM],
  ["process_vm_readv", EPERM],
  ["personality(ADDR_NO_RANDOMIZE)", EPERM],
  ["ioctl(TIOCSTI)", EPERM],
  ["ioctl(0x1_0000_5412)", EPERM],
  ["mount(tmpfs)", EPERM],
  ["setns", EPERM],
  ["klogctl(SIZE_BUFFER)", EPERM],
];
const ALLOWED = [
  "unshare(CLONE_FILES)",
  "socket(AF_NETLINK, NETLINK_ROUTE)",
  "socket(AF_INET)",
  "socket(AF_UNIX)",
  "socketpair(AF_UNIX)",
  "fork",
  "personality(query)",
  "ioctl(TCGETS)",
  "mmap(RW)",
  "mprotect(RX)",
];
const WRITE_AND_EXECUTE = ["mmap(RWX)", "mprotect(RWX)", "shmat(SHM_EXEC)"];
const FOREIGN_ABI = ["x32 getpid", "int 0x80 getpid"];

const arch = hostArch();
const probeNames = [
  ...DENIED.map(([probe]) => probe),
  ...ALLOWED,
  ...WRITE_AND_EXECUTE,
  "clone3",
  "syscall(-1)",
  ...(arch === "x86_64" ? FOREIGN_ABI : []),
];

interface Runner {
  label: string;
  /** Wraps the bwrap command line. */
  prefix: readonly string[];
  bwrap: readonly string[];
  /** Denied probes whose call succeeds here without the filter. */
  controls: readonly string[];
}

const RUNNERS: readonly Runner[] = [
  { label: "root", prefix: [], bwrap: [], controls: DENIED.map(([probe]) => probe) },
  {
    // How the jail runs: an ordinary user in a user namespace, bubblewrap having dropped every
    // capability. bpf, mount, setns and klogctl already fail here; the filter denies them anyway.
    label: "an unprivileged user in a user namespace",
    prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
    bwrap: ["--unshare-user"],
    controls: DENIED.map(([probe]) => probe).filter(
      (probe) =>
        !["bpf(BPF_MAP_CREATE)", "mount(tmpfs)", "setns", "klogctl(SIZE_BUFFER)"].includes(probe),
    ),
  },
];

let work: string;

/** Runs argv in bubblewrap with the root file system read-only, and the profile's filter if any. */
function inBwrap(runner: Runner, profile: Hardening | null, argv: readonly string[]) {
  const [command, ...args] = [
    ...runner.prefix,
    "bwrap",
    ...runner.bwrap,
    ...["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-ipc"],
    ...(profile === null ? [] : ["--seccomp", "3"]),
    "--",
    ...argv,
  ] as [string, ...string[]];
  const options = { cwd: "/", encoding: "utf8", timeout: 60_000 } as const;
  if (profile === null) return spawnSync(command, args, options);
  const file = join(work, `${profile}.bpf`);
  writeFileSync(file, buildSeccompFilter(profile, arch));
  const fd = openSync(file, "r");
  try {
    return spawnSync(command, args, { ...options, stdio: ["ignore", "pipe", "pipe", fd] });
  } finally {
    closeSync(fd);
  }
}

/** An interpreter every runner can execute (a per-user pyenv under /root is not one). */
function findPython(): string {
  if (existsSync("/usr/bin/python3")) return "/usr/bin/python3";
  const found = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
  });
  expect(found.status, "python3 runs the probes").toBe(0);
  return found.stdout.trim();
}

const succeeded = (outcome: Outcome | undefined) =>
  outcome !== undefined && "ret" in outcome && outcome.ret >= 0 && outcome.errno === 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "jailed-seccomp-"));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(process.platform !== "linux").each(RUNNERS)(
  "seccomp filters in bubblewrap, as $label",
  (runner) => {
    const runs = new Map<Hardening | null, Record<string, Outcome>>();
    const outcome = (profile: Hardening | null, name: string) => runs.get(profile)?.[name];

    beforeAll(() => {
      const python = findPython();
      for (const profile of [null, "default", "strict"] as const) {
        const result = inBwrap(runner, profile, [python, "-c", PROBES, ...probeNames]);
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        runs.set(profile, JSON.parse(result.stdout));
      }
    });

    it.each(DENIED)("%s fails with errno %i under the filter", (name, errno) => {
      if (runner.controls.includes(name)) {
        expect(
          succeeded(outcome(null, name)),
          `control: ${JSON.stringify(outcome(null, name))}`,
        ).toBe(true);
      }
      for (const profile of ["default", "strict"] as const) {
        expect(outcome(profile, name), profile).toEqual({ ret: -1, errno });
      }
    });

    it("clone3 reaches the kernel without the filter (EINVAL on a null argument) and is ENOSYS under it", () => {
      expect(outcome(null, "clone3")).toEqual({ ret: -1, errno: EINVAL });
      expect(outcome("default", "clone3")).toEqual({ ret: -1, errno: ENOSYS });
    });

    it.each(ALLOWED)("%s still works under every filter", (name) => {
      for (const profile of [null, "default", "strict"] as const) {
        expect(
          succeeded(outcome(profile, name)),
          `${profile}: ${JSON.stringify(outcome(profile, name))}`,
        ).toBe(true);
      }
    });

    it.each(WRITE_AND_EXECUTE)("%s works under default and is EPERM under strict", (name) => {
      expect(succeeded(outcome(null, name))).toBe(true);
      expect(succeeded(outcome("default", name))).toBe(true);
      expect(outcome("strict", name)).toEqual({ ret: -1, errno: EPERM });
    });

    it.runIf(arch === "x86_64")(
      "kills 32-bit (int 0x80) and x32 calls, which would dodge the x86_64 table",
      () => {
        const pid = outcome(null, "int 0x80 getpid");
        expect(pid !== undefined && "ret" in pid && pid.ret > 0).toBe(true);
        // This kernel may be built without x32; then the control is ENOSYS, and the filter still kills.
        expect(outcome(null, "x32 getpid")).not.toHaveProperty("signal");
        for (const name of FOREIGN_ABI) {
          expect(outcome("default", name), name).toEqual({ signal: "SIGSYS" });
        }
      },
    );

    it("lets syscall(-1) reach the kernel, which answers ENOSYS", () => {
      expect(outcome("default", "syscall(-1)")).toEqual({ ret: -1, errno: ENOSYS });
    });

    describe("node", () => {
      const script = "console.log('ok', require('node:os').networkInterfaces().lo !== undefined)";

      it.each(["default", "jit-runtime"] as const)("runs under %s", (profile) => {
        const result = inBwrap(runner, profile, [process.execPath, "-e", script]);
        expect(result.stdout).toBe("ok true\n");
        expect(result.status).toBe(0);
      });

      it("aborts loudly under strict: V8 cannot map its code pages writable and executable", () => {
        const result = inBwrap(runner, "strict", [process.execPath, "-e", script]);
        expect(result.status).not.toBe(0);
        expect(result.stdout).toBe("");
        expect(result.stderr).toMatch(
          /Fatal error[\s\S]*Check failed: 12 == \(\*__errno_location \(\)\)/,
        );
      });

      it("runs under strict with --jitless", () => {
        const result = inBwrap(runner, "strict", [process.execPath, "--jitless", "-e", script]);
        expect(result.stdout).toBe("ok true\n");
        expect(result.status).toBe(0);
      });
    });
  },
);
