import { spawn, spawnSync } from "node:child_process";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { encodeArgs } from "../../src/runtime/linux/bwrap.js";
import { jailEntry } from "../../src/runtime/linux/entry.js";
import { hostArch } from "../../src/runtime/linux/seccomp/index.js";
import {
  GO_FD,
  LAUNCH_FD,
  READY_FD,
  STAGED_STORE_STEP,
  type StagerInputs,
  stagerArgv,
} from "../../src/runtime/linux/store-stager.js";
import { STAGE_ABOVE_PATHS } from "../../src/runtime/linux/store-view.js";
import {
  collectOutput,
  makeSandbox,
  RUNNERS,
  runAs,
  type Sandbox,
  spawnAs,
} from "../support/jail-run.js";
import {
  closureOf as closureOfHost,
  configFileOf,
  nixBuild,
  withJailedLib,
} from "../support/nix.js";

const EXTRA_PATHS = STAGE_ABOVE_PATHS + 50;

/** A closure big enough to be staged: tiny files, a program, and a store path that is a symlink. */
const extraPkgs = (select: string) => `(let
  files = builtins.genList (i: builtins.toFile "staged-\${toString i}" "content \${toString i}") ${EXTRA_PATHS};
  tool = pkgs.runCommand "staged-tool" { } ''
    mkdir -p $out/bin
    printf '#!/bin/sh\\necho the staged tool ran\\n' > $out/bin/staged-tool
    chmod +x $out/bin/staged-tool
  '';
  link = pkgs.runCommand "staged-link" { } "ln -s \${tool} $out";
in ${select})`;

const shellExpr = withJailedLib(`jailedLib.makeJailedAgent {
  name = "jailed-big-shell";
  pkg = pkgs.bash;
  command = "bash";
  network = "none";
  extraPkgs = ${extraPkgs("files ++ [ tool link ]")};
}`);

/**
 * The same big closure, proxied, with a credential whose command fails while the stager runs, or,
 * with $STALL_FOR set, becomes a sleep that long: time to signal the run before its jail starts.
 */
const badCredentialExpr = withJailedLib(`jailedLib.makeJailedAgent {
  name = "jailed-big-shell-bad-credential";
  pkg = pkgs.bash;
  command = "bash";
  extraPkgs = ${extraPkgs("files")};
  credentials.broken = {
    hosts = [ "api.example.test" ];
    header = "authorization";
    format = "Bearer {token}";
    source.command = [ "/bin/sh" "-c" "if [ -n \\"$STALL_FOR\\" ]; then exec sleep \\"$STALL_FOR\\"; fi; exit 1" ];
    sandboxEnv = "BROKEN_TOKEN";
  };
}`);

let wrapper: string;
let badCredentialWrapper: string;
let closure: string[];
let tool: string;
let link: string;
let perl: string;
let bash: string;

beforeAll(() => {
  wrapper = join(nixBuild(shellExpr), "bin", "jailed-big-shell");
  badCredentialWrapper = join(
    nixBuild(badCredentialExpr),
    "bin",
    "jailed-big-shell-bad-credential",
  );
  tool = nixBuild(withJailedLib(extraPkgs("tool")));
  link = nixBuild(withJailedLib(extraPkgs("link")));
  const info = nixBuild(
    withJailedLib(
      `pkgs.closureInfo { rootPaths = [ pkgs.bash pkgs.coreutils pkgs.cacert ] ++ ${extraPkgs("files ++ [ tool link ]")}; }`,
    ),
  );
  closure = readFileSync(join(info, "store-paths"), "utf8").trim().split("\n").sort();
  perl = join(nixBuild(withJailedLib("pkgs.perl")), "bin", "perl");
  bash = nixBuild(withJailedLib("pkgs.bash"));
});

describe("the build's store view", () => {
  it("holds a mount point per closure path, and lists the shell's closure and the paths to move in", () => {
    const configFile = configFileOf(wrapper);
    const view = (JSON.parse(readFileSync(configFile, "utf8")) as { storeView: string }).storeView;
    const lines = (name: string) =>
      readFileSync(join(view, name), "utf8").trim().split("\n").sort();

    /** A store path's mount point in the view. */
    const point = (path: string) => join(view, "store", path.slice("/nix/store/".length));

    const points = readdirSync(join(view, "store")).map((name) => `/nix/store/${name}`);
    expect(points.sort()).toEqual(closure);
    expect(readlinkSync(point(link))).toBe(tool);
    expect(statSync(point(tool)).isDirectory()).toBe(true);
    expect(readdirSync(point(tool))).toEqual([]);
    const file = closure.find((path) => path.endsWith("-staged-7")) as string;
    expect(statSync(point(file)).size).toBe(0);

    const entries = lines("entries");
    expect(entries).toEqual(closureOfHost([bash]));
    expect(lines("clones")).toEqual(
      closure.filter((path) => !entries.includes(path) && path !== link),
    );
  });
});

/** mountinfo lines of the jail, as [mount point, options]. */
function mounts(mountinfo: string): [string, string][] {
  return mountinfo
    .trim()
    .split("\n")
    .map((line) => {
      const fields = line.split(" ");
      return [fields[4] as string, fields[5] as string];
    });
}

describe.each(RUNNERS)("a jail with a staged /nix/store, run as $label", (runner) => {
  let sandbox: Sandbox;
  const sh = (script: string) => runAs(runner, sandbox, [wrapper, "-c", script]);

  beforeAll(() => {
    sandbox = makeSandbox(runner);
  });
  afterAll(() => {
    rmSync(sandbox.root, { recursive: true, force: true });
  });

  it("holds exactly the closure, staged rather than bound path by path", () => {
    expect(closure.length).toBeGreaterThan(STAGE_ABOVE_PATHS);
    const result = sh("ls -1 /nix/store; echo ---; cat /proc/self/mountinfo");
    expect(result.stderr).toBe("");
    const [listing, mountinfo] = result.stdout.split("---\n") as [string, string];
    const listed = listing
      .trim()
      .split("\n")
      .map((name) => `/nix/store/${name}`)
      .sort();
    expect(listed).toEqual(closure);
    // The jail's /nix/store is the build's directory of mount points, private: what the stager
    // moves in stays in the jail.
    const store = mounts(mountinfo).find(([point]) => point === "/nix/store");
    expect(store?.[1]).toMatch(/^ro,nosuid,nodev/);
    expect(mountinfo).toMatch(
      /-jailed-big-shell-store-view\/store \/nix\/store ro,nosuid,nodev\S* - /,
    );
  });

  it("runs programs and reads files from staged paths, and keeps symlink paths symlinks", () => {
    const name = link.slice("/nix/store/".length);
    const result = sh(
      `staged-tool; cat /nix/store/*-staged-7; echo; readlink /nix/store/${name}; ${tool}/bin/staged-tool`,
    );
    expect(result.stdout).toBe(`the staged tool ran\ncontent 7\n${tool}\nthe staged tool ran\n`);
    expect(result.status).toBe(0);
  });

  it("mounts every staged path read-only, nosuid and nodev", () => {
    const result = sh(
      `cat /proc/self/mountinfo; for p in /nix/store/new ${tool}/new ${tool}/bin/staged-tool; do ( echo x >> "$p" ) 2>/dev/null && echo "wrote $p" >&2; done; true`,
    );
    expect(result.stderr).toBe("");
    const staged = mounts(result.stdout).filter(
      ([point]) => point.startsWith("/nix/store/") && point.includes("-staged-"),
    );
    expect(staged.length).toBe(EXTRA_PATHS + 1);
    for (const [point, options] of staged) {
      expect(`${point} ${options}`).toMatch(/ ro,nosuid,nodev/);
    }
  });

  it("closes the stager's pipes before the agent starts", () => {
    const result = sh("ls /proc/self/fd");
    const fds = result.stdout.trim().split("\n");
    expect(fds).not.toContain(String(READY_FD));
    expect(fds).not.toContain(String(GO_FD));
  });

  it("stops a stager started before a setup that then fails, and leaves nothing behind", () => {
    // The stager starts before the credentials are read; the command fails, and the runtime says so.
    const result = runAs(runner, sandbox, [badCredentialWrapper, "-c", "echo agent ran"]);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      'jailed: credential broken: command "/bin/sh" exited with status 1\n',
    );
    expect(result.status).toBe(2);
    // The stager's arguments name the run directory, under the sandbox's XDG_RUNTIME_DIR.
    const left = spawnSync("pgrep", ["-f", sandbox.runtimeDir], { encoding: "utf8" });
    expect(left.stdout).toBe("");
    expect(readdirSync(join(sandbox.runtimeDir, "jailed"))).toEqual([]);
  });

  it("ends a run signalled before its jail starts with the signal's code, leaving nothing", async () => {
    const marker = String(600000 + Math.floor(Math.random() * 99999));
    const child = spawnAs(runner, sandbox, [badCredentialWrapper, "-c", "echo agent ran"], {
      STALL_FOR: marker,
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    const pids = (pattern: string) =>
      spawnSync("pgrep", ["-f", pattern], { encoding: "utf8" }).stdout.trim();
    // The credential command runs: the stager has started, the jail has not.
    await vi.waitFor(() => expect(pids(`^sleep ${marker}`)).not.toBe(""), {
      timeout: 5000,
      interval: 50,
    });
    expect(readdirSync(join(sandbox.runtimeDir, "jailed")).length).toBe(1);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(128 + 15);
    expect(output).toBe("");
    // Nothing left: the credential command, the stager (whose arguments name the run
    // directory) and the run directory.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pids(`^sleep ${marker}`)).toBe("");
    expect(pids(sandbox.runtimeDir)).toBe("");
    expect(readdirSync(join(sandbox.runtimeDir, "jailed"))).toEqual([]);
  });

  it("leaves the host's mount table as it was", () => {
    const before = readFileSync("/proc/self/mountinfo", "utf8");
    expect(sh("true").status).toBe(0);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).toBe(before);
  });
});

describe("when staging fails, nothing starts", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "jailed-stager-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const status = () => join(dir, "status");
  const launch = () => join(dir, "launch");
  /** The stager makes the mount points: of `entries` before bwrap starts; nothing to move in. */
  const makingEntries = (entries: string): StagerInputs => {
    const clones = join(dir, "no-clones");
    writeFileSync(clones, "");
    const staging = mkdtempSync(join(dir, "staging-"));
    return {
      wholeTree: true,
      status: status(),
      root: staging,
      entries,
      clones,
      staging,
      launch: launch(),
    };
  };

  /** The stager's argv, with `bwrap` as the command line it is to start. */
  const stagerFor = (inputs: StagerInputs, bwrap: readonly string[]) => {
    writeFileSync(inputs.launch, encodeArgs(bwrap));
    return stagerArgv(perl, hostArch(), inputs);
  };

  /**
   * Runs argv and collects its output. "stager": the jail's first process, whose fds 20 and 21 are
   * pipes, and 21 closes at once (the stager's answer never comes). "go" and "no word": the stager,
   * whose LAUNCH_FD says go, or closes with nothing said.
   */
  async function run(argv: readonly string[], extraFds: "stager" | "go" | "no word") {
    const stdio: ("inherit" | "pipe" | "ignore")[] = ["ignore", "pipe", "pipe"];
    const pipeFd = extraFds === "stager" ? GO_FD : LAUNCH_FD;
    for (let fd = 3; fd <= pipeFd; fd++) {
      stdio.push(fd === pipeFd || (extraFds === "stager" && fd === READY_FD) ? "pipe" : "ignore");
    }
    const child = spawn(argv[0] as string, argv.slice(1), { stdio });
    const pipe = (child.stdio as unknown as (Writable | null)[])[pipeFd];
    // A stager that failed before reading its word resets the pipe; its exit and stderr say why.
    pipe?.on("error", () => {});
    pipe?.end(extraFds === "go" ? "go\n" : "");
    return collectOutput(child);
  }

  it("the stager refuses a path that is not in the store, before starting bwrap", async () => {
    // Control: the same list with a real path gets as far as running the command it was given.
    const ok = join(dir, "ok");
    writeFileSync(ok, `${closure[0]}\n`);
    const control = await run(stagerFor(makingEntries(ok), ["/bin/echo", "bwrap ran"]), "go");
    expect(control.stdout).toBe("bwrap ran\n");

    for (const [path, reason] of [
      ["/nix/store/0000000000000000000000000000000-missing", "is missing"],
      ["/nix/store/../etc", "not a store path: /nix/store/../etc"],
      ["/etc/passwd", "not a store path: /etc/passwd"],
    ] as const) {
      const list = join(dir, "list");
      writeFileSync(list, `${path}\n`);
      const result = await run(stagerFor(makingEntries(list), ["/bin/echo", "bwrap ran"]), "go");
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain("jailed: cannot set up the jail's /nix/store:");
      expect(result.stderr).toContain(reason);
      expect(result.status).toBe(2);
    }
  });

  it("the stager answers nothing when bwrap's status names no jail, and says why", async () => {
    const clones = join(dir, "one-clone");
    writeFileSync(clones, `${closure[0]}\n`);
    // Stands in for bwrap: says where "the jail" is (or not), signals ready, prints the answer and
    // how many mounts are at the path afterwards.
    const fakeBwrap = (status: string) => [
      "/bin/bash",
      "-c",
      `${status}; printf . >&${READY_FD}; IFS= read -r go <&${GO_FD}; echo "answer: [$go]"
      awk '$5 == "${closure[0]}"' /proc/self/mountinfo | wc -l`,
    ];
    const noEntries = join(dir, "no-entries");
    writeFileSync(noEntries, "");
    const inputs = (wholeTree: boolean): StagerInputs => ({
      wholeTree,
      status: status(),
      root: "/nix/store",
      entries: noEntries,
      clones,
      staging: null,
      launch: launch(),
    });
    // Control: pointed at a process of its own (this bash), the stager puts the path in and says
    // ok, as one tree (this kernel) and path by path (before Linux 6.15).
    for (const wholeTree of [true, false]) {
      const control = await run(
        stagerFor(inputs(wholeTree), fakeBwrap(`echo '{"child-pid": '$$'}' >${status()}`)),
        "go",
      );
      expect(control.stderr).toBe("");
      expect(control.stdout).toBe("answer: [ok]\n1\n");
    }

    const result = await run(stagerFor(inputs(true), fakeBwrap(`: >${status()}`)), "go");
    expect(result.stdout).toBe("answer: []\n0\n");
    expect(result.stderr).toBe(
      "jailed: cannot set up the jail's /nix/store: bwrap's status names no child pid\n",
    );
  });

  it("the stager starts nothing, and says nothing, without the runtime's word", async () => {
    const clones = join(dir, "one-clone");
    writeFileSync(clones, `${closure[0]}\n`);
    const inputs = { ...makingEntries(join(dir, "no-clones")), clones };
    // Control: with the word, the same stager runs the command it was given.
    const control = await run(stagerFor(inputs, ["/bin/echo", "bwrap ran"]), "go");
    expect(control).toMatchObject({ stdout: "bwrap ran\n", stderr: "", status: 0 });
    // The runtime's setup failed (it says why itself): the word's fd closes with nothing said.
    const result = await run(stagerFor(inputs, ["/bin/echo", "bwrap ran"]), "no word");
    expect(result).toMatchObject({ stdout: "", stderr: "", status: 2 });
  });

  it("the jail's first process does not exec the agent without the stager's ok", async () => {
    const result = await run(
      jailEntry("/bin/bash", [STAGED_STORE_STEP], ["/bin/echo", "agent ran"]),
      "stager",
    );
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("jailed: the jail's /nix/store is incomplete; not starting\n");
    expect(result.status).toBe(2);
  });
});
