import { posix } from "node:path";
import type { JailConfig, Limits } from "../spec/jail-config.js";
import { JailSetupError } from "./errors.js";
import type { JailUser } from "./linux/etc.js";
import { expandHome, isWithin } from "./linux/paths.js";

/** The host facts a plan depends on, gathered by the imperative shell. */
export interface HostFacts {
  user: JailUser;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
}

export interface PlannedMount {
  /** Same path on the host and in the jail. */
  path: string;
  mode: "ro" | "rw";
  create: "file" | "dir" | "none";
}

/** Everything needed to start one jail, independent of how the platform builds it. */
export interface JailPlan {
  argv: string[];
  env: Record<string, string>;
  user: JailUser;
  /** Working directory in the jail; bound at its own path unless cwdMode is none. */
  cwd: string;
  cwdMode: "rw" | "ro" | "none";
  mounts: PlannedMount[];
  /** Relative to cwd; empty unless cwd is read-write (see protection.ts). */
  protectedPaths: string[];
  limits: Limits;
}

/** Variables a terminal program needs to draw; forwarded when set, never secrets. */
const TERMINAL_ENV = ["TERM", "COLORTERM", "LANG", "LC_ALL", "LC_CTYPE", "NO_COLOR"];

/** Where programs look for extra CA certificates; all point at the jail's one bundle. */
export const CA_BUNDLE_IN_JAIL = "/etc/ssl/certs/ca-bundle.crt";
const CA_ENV = [
  "SSL_CERT_FILE",
  "NIX_SSL_CERT_FILE",
  "NODE_EXTRA_CA_CERTS",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
  "GIT_SSL_CAINFO",
  "CARGO_HTTP_CAINFO",
  "DENO_CERT",
  "AWS_CA_BUNDLE",
];

function pick(env: HostFacts["env"], names: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** The jail's whole environment: nothing from the host but what is named. */
export function jailEnv(
  config: JailConfig,
  host: HostFacts,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    PATH: config.path.join(":"),
    HOME: host.user.home,
    USER: host.user.name,
    LOGNAME: host.user.name,
    SHELL: "/bin/sh",
    TMPDIR: "/tmp",
    ...pick(host.env, TERMINAL_ENV),
    ...Object.fromEntries(CA_ENV.map((name) => [name, CA_BUNDLE_IN_JAIL])),
    ...pick(host.env, config.fwdEnv),
    ...config.env,
    ...extra,
  };
}

/** Binding any of these read-write would hand the jail the user's whole home or system. */
function refuseBroadPath(path: string, home: string, what: string): void {
  if (path === "/" || isWithin(home, path)) {
    throw new JailSetupError(
      `${what} would expose ${path === "/" ? "the whole file system" : `your home directory ${home}`} to the jail; name a narrower directory`,
    );
  }
}

/**
 * Linux's MAX_ARG_STRLEN with 4 KiB pages: exec refuses (E2BIG) one argument or one NAME=value
 * longer than this, its NUL included.
 */
export const MAX_EXEC_STRING_BYTES = 32 * 4096;

/** Says which string exec would refuse, before the jail is set up for nothing. */
function refuseOverlongExecStrings(argv: readonly string[], env: Record<string, string>): void {
  const over = (bytes: number) => bytes > MAX_EXEC_STRING_BYTES;
  for (const [name, value] of Object.entries(env)) {
    const bytes = Buffer.byteLength(`${name}=${value}`) + 1;
    if (!over(bytes)) continue;
    const hint =
      name === "PATH"
        ? ": each extraPkgs and basePackages entry adds a directory to it; use fewer, or join them into one package with symlinkJoin"
        : "";
    throw new JailSetupError(
      `the jail's ${name} would be ${bytes} bytes, and Linux passes at most ${MAX_EXEC_STRING_BYTES} in one environment variable${hint}`,
    );
  }
  const index = argv.findIndex((arg) => over(Buffer.byteLength(arg) + 1));
  if (index !== -1) {
    throw new JailSetupError(
      `the command's argv[${index}] is ${Buffer.byteLength(argv[index] as string) + 1} bytes, and Linux passes at most ${MAX_EXEC_STRING_BYTES} in one argument`,
    );
  }
}

export function planJail(
  config: JailConfig,
  host: HostFacts,
  args: readonly string[],
  extraEnv: Readonly<Record<string, string>>,
): JailPlan {
  const home = host.user.home;
  const cwd = posix.resolve(host.cwd);
  if (config.cwd !== "none") refuseBroadPath(cwd, home, `the working directory ${cwd}`);
  const mounts = config.mounts.map((mount): PlannedMount => {
    const path = expandHome(mount.path, home);
    refuseBroadPath(path, home, `config path ${mount.path}`);
    return { path, mode: mount.mode, create: mount.create };
  });
  const argv = [...config.argv, ...args];
  const env = jailEnv(config, host, extraEnv);
  refuseOverlongExecStrings(argv, env);
  return {
    argv,
    env,
    user: host.user,
    cwd: config.cwd === "none" ? home : cwd,
    cwdMode: config.cwd,
    mounts,
    protectedPaths: config.cwd === "rw" ? config.protectedPaths : [],
    limits: config.limits,
  };
}
