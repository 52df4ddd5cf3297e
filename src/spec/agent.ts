import type { Hardening } from "./hardening.js";

/** A host an agent needs, with the public page that says so. */
export interface HostNeed {
  host: string;
  /** What the agent uses it for. */
  why: string;
  /** Public source (docs, code) that names the host. */
  source: string;
}

/** A credential as the Nix `credentials` option takes it; `source` names exactly one of its keys. */
export interface AgentCredential {
  hosts: string[];
  header?: string;
  format?: string;
  source: { env: string } | { file: string; pointer?: string } | { command: string[] };
  sandboxEnv?: string;
  sandboxFile?: string;
  /** An OAuth login in the `file` source: see OAuthSchema. */
  oauth?: { refreshPointer: string; expiresAtPointer?: string; tokenUrls: string[] };
}

/** Everything jailed knows about one agent; `src/generator` turns it into `nix/agents/<id>.nix`. */
export interface AgentSpec {
  /** Short id: the Nix function is `makeJailed<Id>`. */
  id: string;
  displayName: string;
  homepage: string;
  /** nixpkgs attribute of the agent package. */
  nixAttr: string;
  /** Program in `pkg/bin`; the wrapper is `jailed-<command>`. */
  command: string;
  /** nixpkgs marks the package unfree; the flake allows it by predicate for this attribute only. */
  unfree: boolean;
  /** Host paths (`~/…`) bound read-write: the agent's own config and state. */
  configPaths: string[];
  hosts: HostNeed[];
  credentials: Record<string, AgentCredential>;
  hardening: Hardening;
  /** Set inside the jail: turn off auto-update, telemetry and other phoning home. */
  env: Record<string, string>;
}
