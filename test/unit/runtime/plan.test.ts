import { describe, expect, it } from "vitest";
import { JailSetupError } from "../../../src/runtime/errors.js";
import {
  type BwrapInputs,
  bwrapArgs,
  encodeArgs,
  jailInitPidOf,
} from "../../../src/runtime/linux/bwrap.js";
import { type EtcEntry, etcEntries, synthesiseEtc } from "../../../src/runtime/linux/etc.js";
import {
  type HostFacts,
  type JailPlan,
  MAX_EXEC_STRING_BYTES,
  planJail,
} from "../../../src/runtime/plan.js";
import { sampleJailConfig } from "../../support/jail-config.js";

const host: HostFacts = {
  user: { name: "alice", uid: 1000, gid: 100, home: "/home/alice" },
  cwd: "/home/alice/src/project",
  env: {
    TERM: "xterm-256color",
    EDITOR: "vi",
    AWS_SECRET_ACCESS_KEY: "host-secret",
    PATH: "/usr/bin",
  },
};

describe("planJail", () => {
  it("appends the caller's arguments to the agent's argv", () => {
    const plan = planJail(sampleJailConfig(), host, ["--version"], {});
    expect(plan.argv).toEqual(["/nix/store/aaa-agent/bin/agent", "--flag", "--version"]);
  });

  it("builds the environment from named sources only", () => {
    const plan = planJail(sampleJailConfig(), host, [], { HTTPS_PROXY: "http://127.0.0.1:1" });
    expect(plan.env).toMatchObject({
      PATH: "/nix/store/aaa-agent/bin:/nix/store/ccc-coreutils/bin",
      HOME: "/home/alice",
      USER: "alice",
      TERM: "xterm-256color",
      EDITOR: "vi",
      AGENT_TELEMETRY: "0",
      HTTPS_PROXY: "http://127.0.0.1:1",
      SSL_CERT_FILE: "/etc/ssl/certs/ca-bundle.crt",
      NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-bundle.crt",
    });
    expect(plan.env).not.toHaveProperty("AWS_SECRET_ACCESS_KEY");
    expect(Object.values(plan.env)).not.toContain("host-secret");
  });

  it("expands ~ in config paths against the user's home", () => {
    const plan = planJail(sampleJailConfig(), host, [], {});
    expect(plan.mounts).toEqual([{ path: "/home/alice/.agent", mode: "rw", create: "dir" }]);
  });

  it("refuses a working directory that would expose home or the whole system", () => {
    for (const cwd of ["/home/alice", "/home", "/"]) {
      expect(() => planJail(sampleJailConfig(), { ...host, cwd }, [], {})).toThrow(JailSetupError);
    }
    expect(() => planJail(sampleJailConfig(), { ...host, cwd: "/home/alice" }, [], {})).toThrow(
      "the working directory /home/alice would expose your home directory /home/alice to the jail",
    );
    const noCwd = planJail(sampleJailConfig({ cwd: "none" }), { ...host, cwd: "/" }, [], {});
    expect(noCwd.cwd).toBe("/home/alice");
  });

  it("carries the limits, and the protected paths only when cwd is read-write", () => {
    const plan = planJail(sampleJailConfig(), host, [], {});
    expect(plan.limits).toEqual({ nofile: 65536, nproc: 4096 });
    expect(plan.protectedPaths).toEqual([".git/config", ".git/hooks/", ".envrc"]);
    for (const cwd of ["ro", "none"] as const) {
      expect(planJail(sampleJailConfig({ cwd }), host, [], {}).protectedPaths).toEqual([]);
    }
  });

  it("refuses a PATH or argument longer than exec takes, before the jail is set up", () => {
    const bins = (n: number) =>
      Array.from({ length: n }, (_, i) => `/nix/store/${String(i).padStart(32, "0")}-pkg/bin`);
    // 2,000 entries of 52 bytes fit; 2,600 make PATH longer than exec takes.
    expect(() => planJail({ ...sampleJailConfig(), path: bins(2000) }, host, [], {})).not.toThrow();
    expect(() => planJail({ ...sampleJailConfig(), path: bins(2600) }, host, [], {})).toThrow(
      /^the jail's PATH would be 1\d{5} bytes, and Linux passes at most 131072 in one environment variable: each extraPkgs/,
    );
    const longest = "x".repeat(MAX_EXEC_STRING_BYTES - 1);
    expect(() => planJail(sampleJailConfig(), host, [longest], {})).not.toThrow();
    expect(() => planJail(sampleJailConfig(), host, ["ok", `${longest}x`], {})).toThrow(
      "the command's argv[3] is 131073 bytes, and Linux passes at most 131072 in one argument",
    );
  });

  it("refuses a config path that is home itself", () => {
    const config = sampleJailConfig({ mounts: [{ path: "~/", mode: "rw", create: "dir" }] });
    expect(() => planJail(config, host, [], {})).toThrow("config path ~/ would expose your home");
  });
});

/** Inputs with nothing but the plan: no store, no /etc, no seccomp, no pid_max. */
function minimalInputs(plan: JailPlan): BwrapInputs {
  return {
    plan,
    store: { kind: "binds", paths: [] },
    stagingDir: "/run/x/store",
    storeExtras: [],
    etcDir: "/run/x/etc",
    sh: "/sh",
    env: "/env",
    socketDirs: [],
    seccompFd: null,
    statusFd: 4,
    pidMaxFd: null,
    protection: [],
  };
}

describe("bwrapArgs", () => {
  const plan = planJail(sampleJailConfig(), host, [], {});
  const args = bwrapArgs({
    plan,
    store: { kind: "binds", paths: ["/nix/store/aaa-agent", "/nix/store/ccc-coreutils"] },
    stagingDir: "/run/x/store",
    storeExtras: [],
    etcDir: "/run/x/etc",
    sh: "/nix/store/fff-bash/bin/bash",
    env: "/nix/store/ccc-coreutils/bin/env",
    socketDirs: [],
    seccompFd: 5,
    statusFd: 4,
    pidMaxFd: 6,
    protection: [
      {
        source: "/home/alice/src/project/.git",
        dest: "/home/alice/src/project/.git",
        readOnly: false,
      },
      {
        source: "/home/alice/src/project/.git/hooks",
        dest: "/home/alice/src/project/.git/hooks",
        readOnly: true,
      },
    ],
  });
  const joined = args.join(" ");
  const indexOf = (...needle: string[]) => joined.indexOf(needle.join(" "));

  it("unshares every namespace, clears the environment and drops every capability", () => {
    expect(args.slice(0, 6)).toEqual([
      "--unshare-all",
      "--unshare-user",
      "--die-with-parent",
      "--clearenv",
      "--cap-drop",
      "ALL",
    ]);
    expect(joined).not.toContain("--share-net");
  });

  it("writes the jail's pid_max, then makes its /proc/sys read-only", () => {
    const pidMax = indexOf("--file", "6", "/proc/sys/kernel/pid_max");
    expect(pidMax).toBeGreaterThan(indexOf("--proc", "/proc"));
    expect(indexOf("--ro-bind", "/proc/sys", "/proc/sys")).toBeGreaterThan(pidMax);
  });

  it("binds the protected paths after cwd, in the order given", () => {
    const cwd = indexOf("--bind", "/home/alice/src/project", "/home/alice/src/project");
    const anchor = indexOf(
      "--bind",
      "/home/alice/src/project/.git",
      "/home/alice/src/project/.git",
    );
    const hooks = indexOf(
      "--ro-bind",
      "/home/alice/src/project/.git/hooks",
      "/home/alice/src/project/.git/hooks",
    );
    expect(anchor).toBeGreaterThan(cwd);
    expect(hooks).toBeGreaterThan(anchor);
  });

  it("binds each closure path read-only at its own path, and nothing else of the store", () => {
    expect(joined).toContain("--ro-bind /nix/store/aaa-agent /nix/store/aaa-agent");
    expect(joined).toContain("--ro-bind /nix/store/ccc-coreutils /nix/store/ccc-coreutils");
    expect(args.filter((arg) => arg === "/nix/store")).toEqual([]);
  });

  it("binds the build's mount points at /nix/store, with the first process's closure over them", () => {
    const built = bwrapArgs({
      ...minimalInputs(plan),
      store: {
        kind: "built",
        mountPoints: "/nix/store/vvv-store-view/store",
        direct: ["/nix/store/fff-bash", "/nix/store/iii-glibc"],
        entries: "/nix/store/vvv-store-view/entries",
        clones: "/nix/store/vvv-store-view/clones",
      },
    }).join(" ");
    const view = built.indexOf("--ro-bind /nix/store/vvv-store-view/store /nix/store");
    expect(view).toBeGreaterThan(-1);
    expect(built.indexOf("--ro-bind /nix/store/fff-bash /nix/store/fff-bash")).toBeGreaterThan(
      view,
    );
    expect(built).toContain("--ro-bind /nix/store/iii-glibc /nix/store/iii-glibc");
    expect(built).not.toContain("/run/x/store");
  });

  it("binds the stager's directory at /nix/store when it makes the mount points", () => {
    const made = bwrapArgs({
      ...minimalInputs(plan),
      store: {
        kind: "made",
        direct: ["/nix/store/fff-bash", "/nix/store/iii-glibc"],
        staged: ["/nix/store/aaa-agent"],
      },
    }).join(" ");
    const view = made.indexOf("--ro-bind /run/x/store /nix/store");
    expect(view).toBeGreaterThan(-1);
    expect(made.indexOf("--ro-bind /nix/store/fff-bash /nix/store/fff-bash")).toBeGreaterThan(view);
    // The stager moves the rest in later; bwrap never sees it.
    expect(made).not.toContain("--ro-bind /nix/store/aaa-agent");
  });

  it("mounts the home tmpfs before the config paths bound into it, and cwd after", () => {
    const home = indexOf("--tmpfs", "/home/alice");
    const config = indexOf("--bind", "/home/alice/.agent", "/home/alice/.agent");
    const cwd = indexOf("--bind", "/home/alice/src/project", "/home/alice/src/project");
    expect(home).toBeGreaterThan(-1);
    expect(config).toBeGreaterThan(home);
    expect(cwd).toBeGreaterThan(config);
    expect(indexOf("--remount-ro", "/")).toBeGreaterThan(cwd);
  });

  it("synthesises /etc, /bin/sh and /usr/bin/env", () => {
    expect(joined).toContain("--ro-bind /run/x/etc /etc");
    expect(joined).not.toMatch(/--(ro-bind|bind|symlink|file) \S+ \/etc\//);
    expect(joined).toContain("--symlink /nix/store/fff-bash/bin/bash /bin/sh");
    expect(joined).toContain("--symlink /nix/store/ccc-coreutils/bin/env /usr/bin/env");
  });

  it("sets exactly the planned environment and passes the status and seccomp fds", () => {
    const setenv = args.flatMap((arg, i) => (arg === "--setenv" ? [args[i + 1]] : []));
    expect(setenv.sort()).toEqual(Object.keys(plan.env).sort());
    expect(joined).toContain("--json-status-fd 4");
    expect(joined).toContain("--seccomp 5");
    expect(joined).toContain("--chdir /home/alice/src/project");
  });

  it("binds a path the user chose not to create only if it exists", () => {
    const optional = planJail(
      sampleJailConfig({ mounts: [{ path: "/srv/data", mode: "ro", create: "none" }] }),
      host,
      [],
      {},
    );
    const optionalArgs = bwrapArgs(minimalInputs(optional)).join(" ");
    expect(optionalArgs).toContain("--ro-bind-try /srv/data /srv/data");
    expect(optionalArgs).not.toContain("--seccomp");
    // A kernel with a global pid_max: never written, and /proc/sys read-only all the same.
    expect(optionalArgs).not.toContain("pid_max");
    expect(optionalArgs).toContain("--ro-bind /proc/sys /proc/sys");
  });
});

describe("encodeArgs", () => {
  it("terminates each argument with NUL and refuses NUL inside one", () => {
    expect(encodeArgs(["a", "b c"]).toString()).toBe("a\0b c\0");
    expect(() => encodeArgs(["a\0b"])).toThrow("argument contains NUL");
  });
});

describe("synthesiseEtc", () => {
  it("knows only the running user and nobody", () => {
    const etc = synthesiseEtc(host.user);
    expect(etc.passwd).toBe(
      "alice:x:1000:100::/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n",
    );
    expect(etc.group).toBe("alice:x:100:\nnogroup:x:65534:\n");
    expect(etc.hosts).toBe("127.0.0.1 localhost\n::1 localhost\n");
  });
});

describe("etcEntries", () => {
  const bundle = "/nix/store/ggg-cacert/etc/ssl/certs/ca-bundle.crt";
  const byPath = (entries: EtcEntry[]) => new Map(entries.map((entry) => [entry.path, entry]));

  it("holds the synthesised files, the trust bundle linked from the store, and the zone file", () => {
    const zone = new Uint8Array([84, 90, 105, 102]);
    const entries = byPath(etcEntries(host.user, { caBundle: bundle, addsCa: false }, zone));
    expect([...entries.keys()].sort()).toEqual([
      "group",
      "hosts",
      "localtime",
      "nsswitch.conf",
      "passwd",
      "ssl/certs/ca-bundle.crt",
      "ssl/certs/ca-certificates.crt",
    ]);
    expect(entries.get("passwd")).toEqual({
      path: "passwd",
      content: synthesiseEtc(host.user).passwd,
    });
    expect(entries.get("ssl/certs/ca-bundle.crt")).toEqual({
      path: "ssl/certs/ca-bundle.crt",
      symlink: bundle,
    });
    expect(entries.get("ssl/certs/ca-certificates.crt")).toEqual({
      path: "ssl/certs/ca-certificates.crt",
      symlink: "ca-bundle.crt",
    });
    expect(entries.get("localtime")).toEqual({ path: "localtime", content: zone });
  });

  it("copies the trust bundle for a run that adds its CA, and omits a missing zone file", () => {
    const entries = byPath(etcEntries(host.user, { caBundle: bundle, addsCa: true }, null));
    expect(entries.get("ssl/certs/ca-bundle.crt")).toEqual({
      path: "ssl/certs/ca-bundle.crt",
      copyOf: bundle,
    });
    expect(entries.has("localtime")).toBe(false);
  });
});

describe("jailInitPidOf", () => {
  it("reads the child-pid bwrap writes first, and nothing from an empty or partly written status", () => {
    expect(jailInitPidOf('{ "child-pid": 4242 }\n{ "exit-code": 0 }\n')).toBe(4242);
    expect(jailInitPidOf("")).toBe(null);
    expect(jailInitPidOf('{ "child-p')).toBe(null);
    expect(jailInitPidOf('{ "exit-code": 1 }\n')).toBe(null);
  });
});
