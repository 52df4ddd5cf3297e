import type { JailConfig } from "../../src/spec/jail-config.js";

/** A valid JailConfig to vary in tests; store paths are placeholders, never run. */
export function sampleJailConfig(overrides: Partial<JailConfig> = {}): JailConfig {
  return {
    version: 1,
    name: "jailed-sample",
    argv: ["/nix/store/aaa-agent/bin/agent", "--flag"],
    storePaths: "/nix/store/bbb-closure-info/store-paths",
    storeView: "/nix/store/iii-jailed-sample-store-view",
    path: ["/nix/store/aaa-agent/bin", "/nix/store/ccc-coreutils/bin"],
    mounts: [{ path: "~/.agent", mode: "rw", create: "dir" }],
    cwd: "rw",
    protectedPaths: [".git/config", ".git/hooks/", ".envrc"],
    limits: { nofile: 65536, nproc: 4096 },
    env: { AGENT_TELEMETRY: "0" },
    fwdEnv: ["EDITOR"],
    network: { mode: "none" },
    credentials: {},
    hardening: "default",
    nixStore: "closure",
    tools: {
      bwrap: "/nix/store/ddd-bubblewrap/bin/bwrap",
      socat: "/nix/store/eee-socat/bin/socat",
      sh: "/nix/store/fff-bash/bin/bash",
      env: "/nix/store/ccc-coreutils/bin/env",
      caBundle: "/nix/store/ggg-cacert/etc/ssl/certs/ca-bundle.crt",
      perl: "/nix/store/hhh-perl/bin/perl",
    },
    ...overrides,
  };
}
