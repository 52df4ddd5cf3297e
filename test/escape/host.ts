import { type ChildProcess, spawn } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { chmodSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";

/** Servers on the host for the network attacks: each answers, so a control can show it is reachable. */
export interface HostServers {
  tcpPort: number;
  udpPort: number;
  dnsPort: number;
  close(): void;
}

/** A stream server on a port of every address, or at a unix socket path. */
export async function helloServer(address: number | string): Promise<Server> {
  const server = createServer((socket) => {
    socket.on("error", () => {}); // a probe that got its answer may hang up first
    socket.end("hello from the host\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (typeof address === "number") server.listen(address, "::", resolve);
    else server.listen(address, resolve);
  });
  // The unprivileged runner's control connects too; the jail must fail for other reasons than modes.
  if (typeof address === "string") chmodSync(address, 0o777);
  return server;
}

const ABSTRACT_SERVER = `
import select, socket, sys
listeners = []
for name in sys.argv[1:]:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind("\\0" + name)
    listener.listen(16)
    listeners.append(listener)
print("ready", flush=True)
while True:
    for listener in select.select(listeners, [], [])[0]:
        connection, _ = listener.accept()
        connection.sendall(b"hello from the host\\n")
        connection.close()
`;

/**
 * Servers on abstract unix socket names, as X11 and D-Bus make them. Python's: Node 20 pads an
 * abstract name to the whole sun_path, which no other program does.
 */
export async function abstractServers(
  python: string,
  names: readonly string[],
): Promise<ChildProcess> {
  const server = spawn(python, ["-c", ABSTRACT_SERVER, ...names], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout?.once("data", () => resolve());
    server.once("exit", (code) =>
      reject(new Error(`the abstract socket server exited with ${code}`)),
    );
  });
  return server;
}

async function udpServer(reply: (message: Buffer) => Buffer): Promise<UdpSocket> {
  const socket = createSocket({ type: "udp6", ipv6Only: false });
  socket.on("message", (message, peer) => socket.send(reply(message), peer.port, peer.address));
  await new Promise<void>((resolve) => socket.bind(0, "::", resolve));
  return socket;
}

export async function startHostServers(): Promise<HostServers> {
  const tcp = await helloServer(0);
  const udp = await udpServer(() => Buffer.from("pong"));
  // Enough of DNS: the question back, marked as a response.
  const dns = await udpServer((query) => {
    const answer = Buffer.from(query);
    answer[2] = (answer[2] ?? 0) | 0x80;
    return answer;
  });
  return {
    tcpPort: (tcp.address() as { port: number }).port,
    udpPort: udp.address().port,
    dnsPort: dns.address().port,
    close() {
      tcp.close();
      udp.close();
      dns.close();
    },
  };
}

/** The host's first non-loopback addresses: IPv4, and a global IPv6 one if it has any. */
export function hostAddresses(): { hostIp: string; hostIp6: string | null } {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const external = addresses.filter((a) => !a.internal);
  const v4 = external.find((a) => a.family === "IPv4");
  const v6 = external.find((a) => a.family === "IPv6" && !a.address.startsWith("fe80:"));
  if (v4 === undefined) throw new Error("the network attacks need a non-loopback IPv4 address");
  return { hostIp: v4.address, hostIp6: v6?.address ?? null };
}

/** The first nameserver of /etc/resolv.conf, if any. */
export function hostResolver(): string | null {
  try {
    const line = readFileSync("/etc/resolv.conf", "utf8")
      .split("\n")
      .find((l) => l.startsWith("nameserver "));
    return line?.split(/\s+/)[1]?.replace(/%.*$/, "") ?? null;
  } catch {
    return null;
  }
}

/** Start of a process's first mapping (its executable, readable), for process_vm_readv. */
export function firstMapping(pid: number): number {
  const first = readFileSync(`/proc/${pid}/maps`, "utf8").split("-")[0] as string;
  return Number.parseInt(first, 16);
}
