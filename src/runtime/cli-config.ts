import { posix } from "node:path";
import type { Hardening } from "../spec/hardening.js";
import type { JailConfig, Mount } from "../spec/jail-config.js";
import type { Rule } from "../spec/policy.js";
import { JailSetupError } from "./errors.js";

/** What `jailed run` was asked for, after parsing. */
export interface RunRequest {
  /** Store paths of the `-p` packages, already built. */
  packages: readonly string[];
  allowHosts: readonly string[];
  /** `--policy FILE`: a policy file, read when the run starts (its rules go before --allow-host's). */
  policyFile: string | null;
  network: "proxy" | "none";
  rw: readonly string[];
  ro: readonly string[];
  env: readonly string[];
  fwdEnv: readonly string[];
  hardening: Hardening | undefined;
  command: readonly string[];
}

/** `host` or `host:port`, as `--allow-host` takes it. */
export function allowHostRule(spec: string): Rule {
  const match = /^(.+?)(?::(\d{1,5}))?$/.exec(spec);
  const host = match?.[1];
  if (host === undefined || host.includes("/")) {
    throw new JailSetupError(
      `--allow-host takes a host or host:port (got ${JSON.stringify(spec)})`,
    );
  }
  const port = match?.[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new JailSetupError(`--allow-host ${spec}: port must be 1-65535`);
  }
  return port === undefined ? { action: "allow", host } : { action: "allow", host, port };
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq);
    if (eq < 1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new JailSetupError(`--env takes NAME=VALUE (got ${JSON.stringify(pair)})`);
    }
    env[name] = pair.slice(eq + 1);
  }
  return env;
}

function hostMount(path: string, mode: "rw" | "ro", cwd: string): Mount {
  const absolute = path.startsWith("~/") ? path : posix.resolve(cwd, path);
  return { path: absolute, mode, create: "none" };
}

/** Finds the command in the packages' bin directories unless it is a path already. */
export function resolveCommand(
  command: string,
  binDirs: readonly string[],
  isExecutable: (path: string) => boolean,
): string {
  if (command.includes("/")) return command;
  const found = binDirs.map((dir) => posix.join(dir, command)).find(isExecutable);
  if (found === undefined) {
    throw new JailSetupError(
      `${command} is not in any package given with -p (${binDirs.join(", ") || "none"}); add -p with the package that has it`,
    );
  }
  return found;
}

/** The JailConfig for `jailed run`: the CLI's own base (tools, bash, coreutils) plus the request. */
export function runConfig(
  base: JailConfig,
  request: RunRequest,
  cwd: string,
  isExecutable: (path: string) => boolean,
): JailConfig {
  const [command, ...args] = request.command;
  if (command === undefined) throw new JailSetupError("jailed run needs a command after --");
  if (request.network === "none" && request.policyFile !== null) {
    throw new JailSetupError("--policy needs the proxy: it cannot go with --network none");
  }
  const binDirs = [...request.packages.map((pkg) => posix.join(pkg, "bin")), ...base.path];
  return {
    ...base,
    name: "jailed-run",
    argv: [resolveCommand(command, binDirs, isExecutable), ...args],
    path: binDirs,
    mounts: [
      ...base.mounts,
      ...request.rw.map((path) => hostMount(path, "rw", cwd)),
      ...request.ro.map((path) => hostMount(path, "ro", cwd)),
    ],
    env: { ...base.env, ...parseEnv(request.env) },
    fwdEnv: [...base.fwdEnv, ...request.fwdEnv],
    network:
      request.network === "none"
        ? { mode: "none" }
        : {
            mode: "proxy",
            rules: request.allowHosts.map(allowHostRule),
            policyFile: request.policyFile === null ? null : posix.resolve(cwd, request.policyFile),
          },
    hardening: request.hardening ?? base.hardening,
  };
}
