import * as v from "valibot";
import { CredentialSchema } from "./credential.js";
import { HardeningSchema } from "./hardening.js";
import { NetworkSchema } from "./policy.js";

export const JAIL_CONFIG_VERSION = 1;

const absolute = v.pipe(v.string(), v.startsWith("/", "must be an absolute path"));
/** A host path: absolute, or `~/…` expanded against the user's home at run time. */
export const HostPathSchema = v.pipe(
  v.string(),
  v.regex(/^(\/|~\/)/, "must be absolute or start with ~/"),
  v.check((p) => !p.split("/").includes(".."), "must not contain '..'"),
);

export const MountSchema = v.strictObject({
  path: HostPathSchema,
  mode: v.picklist(["ro", "rw"]),
  /** What to create on the host when the path is missing; `none` skips a missing path. */
  create: v.picklist(["file", "dir", "none"]),
});
export type Mount = v.InferOutput<typeof MountSchema>;

/**
 * A path relative to the working directory that the jail must not write, present or not (git hooks and
 * config, .envrc, editor and agent settings: files the user's own tools run outside the jail). A
 * trailing `/` marks a directory, which matters when the path is missing and a placeholder stands in.
 */
export const ProtectedPathSchema = v.pipe(
  v.string(),
  v.regex(/^[^/~]/, "must be relative to the working directory"),
  v.check(
    (p) =>
      p
        .replace(/\/$/, "")
        .split("/")
        .every((s) => s !== "" && s !== "." && s !== ".."),
    "must name a path below the working directory, without empty, '.' or '..' segments",
  ),
);

const positiveInteger = v.pipe(v.number(), v.integer(), v.minValue(1));

/** Resource limits of every process in the jail; core dumps are always off. */
export const LimitsSchema = v.strictObject({
  /** RLIMIT_NOFILE: open files per process. */
  nofile: positiveInteger,
  /** Processes and threads the jail may hold at once (RLIMIT_NPROC, and the pid namespace's size). */
  nproc: positiveInteger,
});
export type Limits = v.InferOutput<typeof LimitsSchema>;

/** Store paths of the programs the runtime itself needs to build the jail. */
export const ToolsSchema = v.strictObject({
  bwrap: absolute,
  socat: absolute,
  sh: absolute,
  env: absolute,
  caBundle: absolute,
  /** Runs the store stager (src/runtime/linux/store-stager.ts) for a big closure; never in the jail. */
  perl: absolute,
});

/** What a wrapper hands the runtime: written by nix/lib.nix, versioned, validated strictly. */
export const JailConfigSchema = v.strictObject({
  version: v.literal(JAIL_CONFIG_VERSION),
  name: v.pipe(v.string(), v.minLength(1)),
  argv: v.pipe(v.array(v.string()), v.minLength(1)),
  /** closureInfo's `store-paths` file: every path the jail's /nix/store holds. */
  storePaths: absolute,
  /**
   * The jail's /nix/store prepared by the build (nix/lib.nix, `storeView`): `store/` holds a mount point
   * per closure path, `entries` the shell's closure, `clones` the paths the store stager puts in.
   */
  storeView: absolute,
  path: v.array(absolute),
  mounts: v.array(MountSchema),
  cwd: v.picklist(["rw", "ro", "none"]),
  /** Read-only inside the working directory when it is read-write; see ProtectedPathSchema. */
  protectedPaths: v.array(ProtectedPathSchema),
  limits: LimitsSchema,
  env: v.record(v.string(), v.string()),
  fwdEnv: v.array(v.string()),
  network: NetworkSchema,
  credentials: v.record(v.string(), CredentialSchema),
  hardening: HardeningSchema,
  nixStore: v.picklist(["closure", "full"]),
  tools: ToolsSchema,
});
export type JailConfig = v.InferOutput<typeof JailConfigSchema>;
