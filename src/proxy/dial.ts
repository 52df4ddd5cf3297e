import { lookup as systemLookup } from "node:dns/promises";
import type { LookupFunction } from "node:net";
import { ipFamily, nonPublicRange } from "./address.js";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to its addresses; the proxy's own resolver unless a test swaps it. */
export type Resolve = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Test-only: dial this address and port for a host, bypassing resolution and range checks. */
export type UpstreamMap = Readonly<Record<string, { address: string; port: number }>>;

export interface RefusedAnswer {
  address: string;
  range: string;
}

/** The host resolved only to addresses the proxy does not dial. */
export class RefusedAddressError extends Error {
  readonly code = "JAILED_REFUSED_ADDRESS";
  constructor(
    readonly host: string,
    readonly refused: readonly RefusedAnswer[],
  ) {
    super(`${host} resolves only to refused addresses`);
    this.name = "RefusedAddressError";
  }
}

/** Where and how to open a connection for a request's host and port. */
export interface Route {
  host: string;
  port: number;
  /** Hands net.connect only addresses that passed the check, so it dials what was checked. */
  lookup: LookupFunction;
}

export const resolveWithSystem: Resolve = async (hostname) =>
  (await systemLookup(hostname, { all: true, verbatim: true })) as ResolvedAddress[];

export type NamedAddresses = ReadonlyMap<string, ReadonlySet<number>>;

/**
 * Splits answers into those the proxy may dial on `port` and those it refuses (pure): public
 * addresses, and others only where a rule names the address for that port.
 */
export function screenAnswers(
  answers: readonly ResolvedAddress[],
  port: number,
  namedAddresses: NamedAddresses,
): { usable: ResolvedAddress[]; refused: RefusedAnswer[] } {
  const usable: ResolvedAddress[] = [];
  const refused: RefusedAnswer[] = [];
  for (const answer of answers) {
    const named = namedAddresses.get(answer.address)?.has(port) === true;
    const range = named ? null : nonPublicRange(answer.address);
    if (range === null) usable.push(answer);
    else refused.push({ address: answer.address, range });
  }
  return { usable, refused };
}

/**
 * Builds the routing function. Names are resolved when a connection is opened (not per request:
 * pooled connections are reused as they are); IP literals, which net.connect never looks up,
 * are checked here up front and throw RefusedAddressError.
 */
export function createRouter(options: {
  resolve: Resolve;
  namedAddresses: NamedAddresses;
  upstreams: UpstreamMap;
}): (host: string, port: number) => Route {
  const { resolve, namedAddresses, upstreams } = options;
  const lookupFor =
    (port: number): LookupFunction =>
    (hostname, lookupOptions, callback) => {
      const mapped = upstreams[hostname];
      const answers: Promise<readonly ResolvedAddress[]> = mapped
        ? Promise.resolve([
            { address: mapped.address, family: ipFamily(mapped.address) === 6 ? 6 : 4 },
          ])
        : resolve(hostname).then((all) => {
            if (all.length === 0) {
              throw Object.assign(new Error(`${hostname} has no addresses`), { code: "ENOTFOUND" });
            }
            const { usable, refused } = screenAnswers(all, port, namedAddresses);
            if (usable.length === 0) throw new RefusedAddressError(hostname, refused);
            return usable;
          });
      answers.then(
        (usable) => {
          if (lookupOptions.all) callback(null, [...usable]);
          else
            callback(
              null,
              (usable[0] as ResolvedAddress).address,
              (usable[0] as ResolvedAddress).family,
            );
        },
        (error: NodeJS.ErrnoException) => callback(error, ""),
      );
    };
  return (host, port) => {
    const mapped = upstreams[host];
    if (mapped) return { host, port: mapped.port, lookup: lookupFor(port) };
    const family = ipFamily(host);
    if (family !== 0) {
      const { refused } = screenAnswers([{ address: host, family }], port, namedAddresses);
      if (refused.length > 0) throw new RefusedAddressError(host, refused);
    }
    return { host, port, lookup: lookupFor(port) };
  };
}
