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

/** Store paths of the programs the runtime itself needs to build the jail. */
export const ToolsSchema = v.strictObject({
  bwrap: absolute,
  socat: absolute,
  sh: absolute,
  env: absolute,
  caBundle: absolute,
});

/** What a wrapper hands the runtime: written by nix/lib.nix, versioned, validated strictly. */
export const JailConfigSchema = v.strictObject({
  version: v.literal(JAIL_CONFIG_VERSION),
  name: v.pipe(v.string(), v.minLength(1)),
  argv: v.pipe(v.array(v.string()), v.minLength(1)),
  /** closureInfo's `store-paths` file: every path the jail's /nix/store holds. */
  storePaths: absolute,
  path: v.array(absolute),
  mounts: v.array(MountSchema),
  cwd: v.picklist(["rw", "ro", "none"]),
  env: v.record(v.string(), v.string()),
  fwdEnv: v.array(v.string()),
  network: NetworkSchema,
  credentials: v.record(v.string(), CredentialSchema),
  hardening: HardeningSchema,
  nixStore: v.picklist(["closure", "full"]),
  tools: ToolsSchema,
});
export type JailConfig = v.InferOutput<typeof JailConfigSchema>;
