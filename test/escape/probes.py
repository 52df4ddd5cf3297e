# Attacks for the escape suite (escape.test.ts), run by a Python inside a jail and by the host's
# outside it, where the same call is the control. `python3 -c "$(cat probes.py)"` reads one JSON line
# on stdin, either {"calls": {name: [kind, arg...]}, "hold": bool} or {"bomb": [seconds, marker]}, and
# prints one JSON line {name: {"ok": bool, "error": "ENOENT" | null, "detail": str}}: ok means the
# attack got what it wanted. With "hold" it then waits for stdin to close, so the test can look at
# the host while the jail still runs. Each call runs in a child process of its own, so that one that
# is killed, unshared or traced stays alone.
import ctypes
import errno
import json
import os
import platform
import signal
import socket
import struct
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
for name in ("syscall", "ptrace", "process_vm_readv"):
    getattr(libc, name).restype = ctypes.c_long
L = ctypes.c_long

NR = {
    "x86_64": {"io_uring_setup": 425, "keyctl": 250},
    "aarch64": {"io_uring_setup": 425, "keyctl": 219},
}[platform.machine()]


class Denied(Exception):
    """The call failed with errno, as a system call does."""

    def __init__(self, code, detail=""):
        super().__init__(detail)
        self.code = code


def check(result):
    if result < 0:
        raise Denied(ctypes.get_errno())
    return result


def read(path):
    with open(path, "rb") as f:
        return f"{len(f.read())} bytes"


def show(path):
    with open(path) as f:
        return f.read()


def getenv(name):
    if name not in os.environ:
        raise Denied(None, f"{name} is not set")
    return os.environ[name]


def listing(path):
    return " ".join(sorted(os.listdir(path))[:8])


PLANTED = "# planted by the escape suite\n"  # a comment in git config, shell and most else


def write(path):
    with open(path, "a") as f:
        f.write(PLANTED)
    return "written"


def create(path):
    with open(path, "x") as f:
        f.write(PLANTED)
    return "created"


def plant(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return write(path)


def rename(src, dst):
    os.rename(src, dst)
    os.rename(dst, src)  # put it back: only the possibility matters
    return "renamed"


def link(src, dst):
    os.link(src, dst)
    with open(dst, "a") as f:
        f.write(PLANTED)
    return "linked and written"


def symlink_write(target, link_path):
    os.symlink(target, link_path)
    with open(link_path, "a") as f:
        f.write(PLANTED)
    return "written through the link"


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp(host, port):
    with socket.socket(family(host), socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect((host, port))
        return s.recv(64).decode().strip()


def udp(host, port):
    # Connected, so that an ICMP "port unreachable" comes back as ECONNREFUSED.
    with socket.socket(family(host), socket.SOCK_DGRAM) as s:
        s.settimeout(1.5)
        s.connect((host, port))
        s.send(b"ping")
        return s.recv(64).decode()


def icmp(host):
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.settimeout(1.5)
        body = struct.pack("!BBHHH", 8, 0, 0, 0x4A4A, 1) + b"jailed"
        total = sum(struct.unpack("!%dH" % (len(body) // 2), body))
        total = (total >> 16) + (total & 0xFFFF)
        checksum = ~(total + (total >> 16)) & 0xFFFF
        s.sendto(body[:2] + struct.pack("!H", checksum) + body[4:], (host, 0))
        while True:
            packet = s.recv(256)
            if packet[20] == 0:  # echo reply, after the 20-byte IP header
                return "echo reply"


def dns(host, port):
    query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in "escape.test".split(".")) + b"\0"
    query += struct.pack("!HH", 1, 1)
    with socket.socket(family(host), socket.SOCK_DGRAM) as s:
        s.settimeout(1.5)
        s.connect((host, port))
        s.send(query)
        answer = s.recv(512)
        return f"answer with {struct.unpack('!H', answer[6:8])[0]} records"


def unix(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect("\0" + path[1:] if path.startswith("@") else path)  # @name: abstract
        return s.recv(64).decode().strip()


def ptrace(pid):
    check(libc.ptrace(L(16), L(pid), None, None))  # PTRACE_ATTACH
    os.waitpid(pid, 0)
    libc.ptrace(L(17), L(pid), None, None)  # PTRACE_DETACH
    return "attached"


def process_vm(pid, address):
    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    buffer = ctypes.create_string_buffer(16)
    local = IoVec(ctypes.addressof(buffer), 16)
    remote = IoVec(address, 16)
    check(libc.process_vm_readv(pid, ctypes.byref(local), L(1), ctypes.byref(remote), L(1), L(0)))
    return f"read {buffer.raw[:4]!r}"


def signal_process(pid):
    os.kill(pid, 0)
    return "signal delivered"


def tiocsti():
    _, tty = os.openpty()
    os.setsid()
    check(libc.ioctl(tty, ctypes.c_ulong(0x540E), L(0)))  # TIOCSCTTY
    check(libc.ioctl(tty, ctypes.c_ulong(0x5412), ctypes.c_char_p(b"x")))  # TIOCSTI
    return "typed into the terminal"


def user_namespace():
    check(libc.unshare(0x10000000))  # CLONE_NEWUSER
    return "new user namespace"


def mount():
    # Never in the caller's own mount namespace: a private one, if it can be had.
    if libc.unshare(0x00020000) < 0 and libc.unshare(0x10020000) < 0:  # CLONE_NEWNS [| NEWUSER]
        pass
    target = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"escape-mount-{os.getpid()}")
    os.makedirs(target, exist_ok=True)
    libc.mount(b"none", b"/", None, L(0x4000 | 0x40000), None)  # MS_REC | MS_PRIVATE
    check(libc.mount(b"none", target.encode(), b"tmpfs", L(0), None))
    return "mounted"


def io_uring():
    params = ctypes.create_string_buffer(120)
    fd = check(libc.syscall(L(NR["io_uring_setup"]), L(1), params))
    os.close(fd)
    return "io_uring instance"


def keyring():
    key = check(libc.syscall(L(NR["keyctl"]), L(0), L(-3), L(1)))  # GET_KEYRING_ID, session
    return f"session keyring {key}"


def sysctl_write(path):
    with open(path) as f:
        value = f.read()
    with open(path, "w") as f:
        f.write(value)  # the same value: only the possibility matters
    return "written"


def environment(secret):
    found = [k for k, v in os.environ.items() if secret in v]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if secret.encode() in f.read():
                        found.append(f"/proc/{entry}/environ")
            except OSError:
                pass
    if not found:
        raise Denied(None, "not in the environment nor in any /proc/*/environ")
    return " ".join(found)


def process_environment(pid, secret):
    with open(f"/proc/{pid}/environ", "rb") as f:
        if secret.encode() in f.read():
            return "found"
    raise Denied(None, f"/proc/{pid} is not the runtime")


def kernel_addresses():
    with open("/proc/kallsyms") as f:
        address = f.readline().split()[0]
    if int(address, 16) == 0:
        raise Denied(None, "addresses read as 0")
    return address


def fork_many(count):
    children = []
    try:
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    except OSError as error:
        raise Denied(error.errno, f"stopped after {len(children)} processes") from None
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return f"{len(children)} processes"


RLIMITS = {"core": 4, "nofile": 7, "nproc": 6}


def raise_limit(name, value):
    import resource

    try:
        resource.setrlimit(RLIMITS[name], (value, value))
    except ValueError as error:  # Python's word for EPERM on a hard limit
        raise Denied(errno.EPERM, str(error)) from None
    return f"{name} = {value}"


def vsock():
    socket.socket(40, socket.SOCK_STREAM).close()  # AF_VSOCK
    return "vsock socket"


def sock_diag():
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4).close()  # NETLINK_SOCK_DIAG
    return "sock_diag socket"


def git(cwd, *args):
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        codes = [code for code in errno.errorcode if os.strerror(code) in result.stderr]
        raise Denied(codes[0] if codes else None, message)
    return "git succeeded"


def find_text(texts, *roots):
    """Any of `texts` in any file under `roots` that can be read."""
    skip = ("/proc", "/sys", "/dev", "/nix/store")
    found = []
    for root in roots:
        for directory, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(directory, d) not in skip]
            for name in files:
                path = os.path.join(directory, name)
                try:
                    with open(path, "rb") as f:
                        content = f.read(1 << 20)
                except OSError:
                    continue
                if any(text.encode() in content for text in texts):
                    found.append(path)
    if not found:
        raise Denied(None, "in no file the probe can read")
    return " ".join(found)


def run_directory():
    """bubblewrap's options in the host's run directory, whose name the jail's mount table gives."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/etc":
                directory = os.path.dirname(fields[3])
                try:
                    return read(os.path.join(directory, "bwrap-args"))
                except OSError as error:
                    raise Denied(error.errno, directory) from None
    raise Denied(None, "no bind at /etc")


def proxy_connect(host, port):
    proxy = os.environ.get("HTTPS_PROXY", "")
    if not proxy:
        raise Denied(None, "no proxy in this environment")
    credentials, address = proxy.removeprefix("http://").rsplit("@", 1)
    proxy_host, proxy_port = address.rstrip("/").rsplit(":", 1)
    import base64

    with socket.create_connection((proxy_host, int(proxy_port)), timeout=3) as s:
        auth = base64.b64encode(credentials.encode()).decode()
        s.sendall(
            f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode()
        )
        status = s.recv(256).decode().split("\r\n")[0]
    if " 200 " not in status + " ":
        raise Denied(None, status)
    return status


def fork_bomb(seconds, marker):
    """A real fork bomb in bash. Returns the most processes seen at once in this pid namespace, and
    how often bash was refused a fork (it says so on stderr, then retries)."""
    log = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{marker}.log")
    with open(log, "w") as errors:
        subprocess.Popen(
            ["bash", "-c", "b() { b | b & }; b", marker], stderr=errors, start_new_session=True
        )
    print("bombing", flush=True)
    most = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        most = max(most, sum(1 for entry in os.listdir("/proc") if entry.isdigit()))
        time.sleep(0.02)
    with open(log) as errors:
        refused = errors.read().count("Resource temporarily unavailable")
    return {"most": most, "refused": refused}


KINDS = {
    "read": read,
    "list": listing,
    "show": show,
    "getenv": getenv,
    "write": write,
    "create": create,
    "plant": plant,
    "rename": rename,
    "link": link,
    "symlink-write": symlink_write,
    "tcp": tcp,
    "udp": udp,
    "icmp": icmp,
    "dns": dns,
    "unix": unix,
    "ptrace": ptrace,
    "process-vm": process_vm,
    "signal": signal_process,
    "tiocsti": tiocsti,
    "userns": user_namespace,
    "mount": mount,
    "io-uring": io_uring,
    "keyring": keyring,
    "sysctl-write": sysctl_write,
    "environment": environment,
    "process-environment": process_environment,
    "kernel-addresses": kernel_addresses,
    "fork-many": fork_many,
    "raise-limit": raise_limit,
    "vsock": vsock,
    "sock-diag": sock_diag,
    "git": git,
    "find-text": find_text,
    "run-directory": run_directory,
    "proxy-connect": proxy_connect,
}


def outcome(call):
    kind, *args = call
    try:
        return {"ok": True, "error": None, "detail": str(KINDS[kind](*args))}
    except Denied as denied:
        name = errno.errorcode.get(denied.code) if denied.code else None
        return {"ok": False, "error": name, "detail": str(denied)}
    except TimeoutError:
        return {"ok": False, "error": "timeout", "detail": "no answer"}
    except OSError as error:
        return {"ok": False, "error": errno.errorcode.get(error.errno), "detail": str(error)}
    except Exception as error:  # a probe's own bug: no errno, so no expected outcome matches it
        return {"ok": False, "error": type(error).__name__, "detail": str(error)}


def isolated(call):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.write(write_end, json.dumps(outcome(call)).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"ok": False, "error": signal.Signals(os.WTERMSIG(status)).name, "detail": "killed"}
    return json.loads(b"".join(chunks))


def main():
    params = json.loads(sys.stdin.readline())
    if "bomb" in params:
        print(json.dumps(fork_bomb(*params["bomb"])), flush=True)
        return
    results = {name: isolated(call) for name, call in params["calls"].items()}
    print(json.dumps(results), flush=True)
    if params.get("hold"):
        while sys.stdin.read(1):
            pass


main()
