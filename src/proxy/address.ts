type Range = readonly [prefix: bigint, bits: number, name: string];

// Most specific first: the first range that contains an address names it.
const V4_RANGES: readonly Range[] = [
  [v4("169.254.169.254"), 32, "metadata"],
  [v4("0.0.0.0"), 8, "unspecified"],
  [v4("10.0.0.0"), 8, "private"],
  [v4("100.64.0.0"), 10, "CGNAT"],
  [v4("127.0.0.0"), 8, "loopback"],
  [v4("169.254.0.0"), 16, "link-local"],
  [v4("172.16.0.0"), 12, "private"],
  // Not global (RFC 6890); Oracle Cloud Classic's metadata service is 192.0.0.192.
  [v4("192.0.0.0"), 24, "special-purpose"],
  [v4("192.168.0.0"), 16, "private"],
  [v4("224.0.0.0"), 4, "multicast"],
  [v4("240.0.0.0"), 4, "reserved"],
];

const V6_RANGES: readonly Range[] = [
  [v6("::"), 128, "unspecified"],
  [v6("::1"), 128, "loopback"],
  [v6("fd00:ec2::254"), 128, "metadata"],
  [v6("fc00::"), 7, "private"],
  [v6("fe80::"), 10, "link-local"],
  [v6("fec0::"), 10, "site-local"],
  [v6("ff00::"), 8, "multicast"],
];

/**
 * IPv6 prefixes whose last 32 bits are an IPv4 address that the packets reach: IPv4-mapped, and
 * NAT64's well-known prefix (RFC 6052), through which an IPv6-only network's gateway reaches any
 * IPv4 address, its private ones included.
 */
const V4_CARRIERS = [v6("::ffff:0:0"), v6("64:ff9b::")];

/**
 * 4 or 6 for an IP address in the form normalizeHost or a resolver gives, 0 for a host name.
 * (node:net's isIP compiles a large regex on first use, ~6 ms: too slow for a first request.)
 */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (host.includes(":")) return 6;
  return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ? 4 : 0;
}

/**
 * The name of the non-public range an IP address falls in (`loopback`, `private`, `metadata`, …),
 * or null for a public address. An IPv6 address that carries an IPv4 one (V4_CARRIERS) is judged by
 * the IPv4 address inside.
 */
export function nonPublicRange(address: string): string | null {
  const family = ipFamily(address);
  if (family === 4) return rangeOf(v4(address), 32, V4_RANGES);
  if (family === 0) throw new Error(`not an IP address: ${address}`);
  const value = v6(address);
  if (V4_CARRIERS.some((prefix) => value >> 32n === prefix >> 32n))
    return rangeOf(value & 0xffffffffn, 32, V4_RANGES);
  return rangeOf(value, 128, V6_RANGES);
}

/** The 4 or 16 bytes of an IP address, as a certificate's iPAddress holds them. */
export function addressBytes(address: string): Buffer {
  const [value, width] = ipFamily(address) === 4 ? [v4(address), 4] : [v6(address), 16];
  return Buffer.from(value.toString(16).padStart(width * 2, "0"), "hex");
}

function rangeOf(value: bigint, width: number, ranges: readonly Range[]): string | null {
  for (const [prefix, bits, name] of ranges) {
    const shift = BigInt(width - bits);
    if (value >> shift === prefix >> shift) return name;
  }
  return null;
}

function v4(address: string): bigint {
  return address.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function v6(address: string): bigint {
  const unzoned = address.split("%")[0] as string;
  // A trailing dotted quad stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(unzoned)?.[1];
  let text = unzoned;
  if (dotted !== undefined) {
    const quad = v4(dotted);
    text = `${unzoned.slice(0, -dotted.length)}${(quad >> 16n).toString(16)}:${(quad & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}
