import { CA_BUNDLE_IN_JAIL } from "../plan.js";

/** Who runs the jail, as the synthesised /etc describes them. */
export interface JailUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * The /etc files the jail sees. Only the running user (and nobody) exist in passwd, so the jail learns
 * nothing about the host's other accounts; hosts knows only localhost, so every other name goes through
 * the proxy, which resolves it itself.
 */
export function synthesiseEtc(user: JailUser): Record<string, string> {
  const passwd = [`${user.name}:x:${user.uid}:${user.gid}::${user.home}:/bin/sh`];
  const group = [`${user.name}:x:${user.gid}:`];
  if (user.uid !== 65534) passwd.push("nobody:x:65534:65534:nobody:/var/empty:/bin/sh");
  if (user.gid !== 65534) group.push("nogroup:x:65534:");
  return {
    passwd: `${passwd.join("\n")}\n`,
    group: `${group.join("\n")}\n`,
    hosts: "127.0.0.1 localhost\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
  };
}

/** A file or symlink in the jail's /etc, by its path under /etc. */
export type EtcEntry =
  | { path: string; content: string | Uint8Array }
  | { path: string; symlink: string }
  | { path: string; copyOf: string };

/** The trust bundle's path under /etc. */
export const CA_BUNDLE_IN_ETC = CA_BUNDLE_IN_JAIL.slice("/etc/".length);

/**
 * Everything in the jail's /etc, which is one directory of the run's bound read-only: one bind
 * instead of a bind per file (each costs bubblewrap ~0.15 ms). The trust bundle `caBundle` (a store
 * path the jail sees) is linked, or copied when the run appends its own CA to it (`addsCa`: a
 * proxied run, which then appends only, after the jail is spawned). `localtime` is a copy of the
 * host's zone file, when it has one.
 */
export function etcEntries(
  user: JailUser,
  trust: { caBundle: string; addsCa: boolean },
  localtime: Uint8Array | null,
): EtcEntry[] {
  return [
    ...Object.entries(synthesiseEtc(user)).map(([path, content]) => ({ path, content })),
    trust.addsCa
      ? { path: CA_BUNDLE_IN_ETC, copyOf: trust.caBundle }
      : { path: CA_BUNDLE_IN_ETC, symlink: trust.caBundle },
    { path: "ssl/certs/ca-certificates.crt", symlink: "ca-bundle.crt" },
    ...(localtime === null ? [] : [{ path: "localtime", content: localtime }]),
  ];
}
