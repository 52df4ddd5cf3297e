import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import type { Server } from "node:net";
import { release } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kernelHasPidNamespaceMax } from "../../src/runtime/limits.js";
import { RUNNERS, type Runner } from "../support/jail-run.js";
import { closureOf, nixBuild, repoRoot, withJailedLib } from "../support/nix.js";
import {
  ATTACKS,
  type Attack,
  type Call,
  OWN_RUNS,
  type Running,
  type Targets,
} from "./attacks.js";
import {
  abstractServers,
  firstMapping,
  type HostServers,
  helloServer,
  hostAddresses,
  hostResolver,
  startHostServers,
} from "./host.js";

/**
 * Attacks from inside a real jail (a jailed Python, whose probes make the system calls), each with a
 * control that runs the same probe outside the jail, as the same user, and shows that it works there
 * (or that its target exists), so that no attack passes for the wrong reason. Both runners: root, and
 * an unprivileged user through setpriv. SECURITY.md lists the results.
 */

const PROBES = readFileSync(join(import.meta.dirname, "probes.py"), "utf8");
const NOFILE = 1024;
const NPROC = 400;

const probeJail = withJailedLib(`jailedLib.makeJailedAgent {
  name = "jailed-escape-probe";
  pkg = pkgs.python3;
  command = "python3";
  extraPkgs = [ pkgs.git ];
  limits = { nofile = ${NOFILE}; nproc = ${NPROC}; };
  configPaths = [ "~/.escape" ];
  credentials = {
    env = { hosts = [ "api.escape.test" ]; source.env = "ESCAPE_SECRET_TOKEN"; sandboxEnv = "ESCAPE_API_KEY"; };
    file = {
      hosts = [ "api.escape.test" ];
      source = { file = "~/.escape/auth.json"; pointer = "/access_token"; };
      sandboxFile = "~/.escape/auth.json";
    };
  };
}`);

type Outcome = { ok: boolean; error: string | null; detail: string };

/** Not attacks: where the jail finds its credentials, which must be dummies. */
const DUMMY_CALLS = (t: Targets): Record<string, Call> => ({
  "dummy env": ["getenv", "ESCAPE_API_KEY"],
  "dummy file": ["show", t.credentialFile],
});
type Outcomes = Record<string, Outcome>;

let wrapper: string;
let storeFile: string;
let servers: HostServers;
let abstractListener: ChildProcess;
const abstractName = `jailed-escape-${randomBytes(4).toString("hex")}`;
const display = 50 + Math.floor(Math.random() * 900);
const x11Socket = `/tmp/.X11-unix/X${display}`;
const addresses = hostAddresses();
const resolver = hostResolver();
const FILE_SECRETS = [
  `sk-file-${randomBytes(16).toString("hex")}`,
  `rt-file-${randomBytes(16).toString("hex")}`,
];

/** Python for the controls outside: the host's, which every runner can execute. */
function hostPython(): string {
  if (existsSync("/usr/bin/python3")) return "/usr/bin/python3";
  return execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
  }).trim();
}

beforeAll(async () => {
  wrapper = join(nixBuild(probeJail), "bin", "jailed-escape-probe");
  // curl is in the stand-in, and not in this jail's closure.
  const curl = nixBuild(withJailedLib("pkgs.curl"));
  const roots = nixBuild(withJailedLib("[ pkgs.python3 pkgs.git pkgs.bash pkgs.coreutils ]"));
  expect(closureOf(roots.split("\n"))).not.toContain(curl);
  storeFile = join(curl, "bin", "curl");
  servers = await startHostServers();
  abstractListener = await abstractServers(hostPython(), [abstractName, x11Socket]);
});

afterAll(() => {
  servers?.close();
  abstractListener?.kill();
});

function asRunner(runner: Runner, argv: readonly string[]): [string, string[]] {
  if (runner.uid === null) return [argv[0] as string, argv.slice(1)];
  const id = String(runner.uid);
  return ["setpriv", [`--reuid=${id}`, `--regid=${id}`, "--clear-groups", "--", ...argv]];
}

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    chownSync(join(entry.parentPath, entry.name), uid, uid);
  }
}

/**
 * A fake user's world, as test/support/jail-run.ts makes it, but under /var/tmp: the jail has a /tmp
 * of its own, so a project under /tmp would have `..` on the jail's tmpfs instead of its read-only
 * root. Each side gets its own project and outside directory: the controls write to theirs.
 */
interface World {
  root: string;
  home: string;
  runtimeDir: string;
  /** The jail's project, and the copy the controls attack. */
  project: string;
  controlProject: string;
  outside: string;
  controlOutside: string;
  otherUser: string;
  worktree: string;
  controlWorktree: string;
  sshDir: string;
}

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args], {
    cwd,
    stdio: "ignore",
  });
}

/** A repository with one commit, and a worktree of it next to it. */
function makeRepository(path: string, worktree: string): void {
  mkdirSync(path);
  writeFileSync(join(path, "README"), "the project\n");
  git(path, "init", "-q", "-b", "main");
  git(path, "add", "README");
  git(path, "commit", "-q", "-m", "first");
  git(path, "worktree", "add", "-q", worktree);
}

function makeWorld(uid: number): World {
  const root = mkdtempSync("/var/tmp/jailed-escape-");
  const world: World = {
    root,
    home: join(root, "home"),
    runtimeDir: join(root, "run"),
    project: join(root, "project"),
    controlProject: join(root, "control", "project"),
    outside: join(root, "outside"),
    controlOutside: join(root, "control", "outside"),
    otherUser: join(root, "other-user"),
    worktree: join(root, "worktree"),
    controlWorktree: join(root, "control", "worktree"),
    sshDir: join(root, `ssh-${randomBytes(4).toString("hex")}`),
  };
  for (const dir of [
    join(world.home, ".ssh"),
    join(world.home, ".aws"),
    world.runtimeDir,
    world.outside,
    world.controlOutside,
    world.sshDir,
  ]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  writeFileSync(join(world.home, ".ssh", "id_ed25519"), "the user's ssh key\n");
  writeFileSync(join(world.home, ".aws", "credentials"), "[default]\naws_secret_access_key = x\n");
  writeFileSync(join(world.home, "notes.txt"), "host home file\n");
  mkdirSync(join(world.home, ".escape"), { mode: 0o700 });
  writeFileSync(
    join(world.home, ".escape", "auth.json"),
    JSON.stringify({ access_token: FILE_SECRETS[0], refresh_token: FILE_SECRETS[1] }),
  );
  for (const dir of [world.outside, world.controlOutside]) {
    writeFileSync(join(dir, "target.txt"), "outside the jail\n");
  }
  makeRepository(world.project, world.worktree);
  makeRepository(world.controlProject, world.controlWorktree);
  chownTree(root, uid);
  mkdirSync(world.otherUser, { mode: 0o755 });
  writeFileSync(join(world.otherUser, "secret.txt"), "another user's file\n", { mode: 0o644 });
  chownTree(world.otherUser, 4242);
  return world;
}

/** stdout, line by line, as it comes. */
function lines(child: ChildProcess): () => Promise<string | null> {
  const queue: string[] = [];
  const waiting: ((line: string | null) => void)[] = [];
  let buffered = "";
  let ended = false;
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const line of parts) {
      const next = waiting.shift();
      if (next) next(line);
      else queue.push(line);
    }
  });
  child.stdout?.on("end", () => {
    ended = true;
    for (const next of waiting.splice(0)) next(null);
  });
  return () =>
    new Promise((resolve) => {
      const line = queue.shift();
      if (line !== undefined) resolve(line);
      else if (ended) resolve(null);
      else waiting.push(resolve);
    });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });

/** Runs probes.py; `params` gets the pid of what was spawned (the runtime: setpriv execs it). */
function startProbes(
  runner: Runner,
  argv: readonly string[],
  cwd: string,
  env: Record<string, string>,
  params: (pid: number) => unknown,
) {
  const [file, args] = asRunner(runner, argv);
  const child = spawn(file, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdin?.write(`${JSON.stringify(params(child.pid as number))}\n`);
  const nextLine = lines(child);
  return {
    child,
    stderr: () => stderr,
    async line(): Promise<string> {
      const line = await nextLine();
      if (line === null) throw new Error(`the probes ended without an answer; stderr:\n${stderr}`);
      return line;
    },
  };
}

describe.skipIf(process.platform !== "linux").each(RUNNERS)("escapes, run as $label", (runner) => {
  const asRoot: Runner = { label: "root", uid: null };
  const secret = `real-token-${randomBytes(12).toString("hex")}`;
  let world: World;
  let env: Record<string, string>;
  let sleeper: ChildProcess;
  let unixServers: Server[] = [];
  let madeX11Dir = false;
  let targets: (side: "jail" | "control", runtimePid: number) => Targets;
  let inside: Outcomes;
  let controls: Outcomes;
  let rootControls: Outcomes;
  let whileRunning: Record<string, boolean>;
  const placeholdersDuringRun: Record<string, boolean> = {};

  /** The probes outside the jail, as `as`, with the host's Python. */
  const outside = async (as: Runner, calls: Record<string, Call>, cwd: string) => {
    if (Object.keys(calls).length === 0) return {};
    const probes = startProbes(as, [hostPython(), "-c", PROBES], cwd, env, () => ({ calls }));
    probes.child.stdin?.end();
    const outcomes = JSON.parse(await probes.line()) as Outcomes;
    expect(await exited(probes.child), probes.stderr()).toBe(0);
    return outcomes;
  };

  /** The jailed probes in cwd. */
  const jailed = (cwd: string, params: (runtimePid: number) => unknown) =>
    startProbes(runner, [wrapper, "-c", PROBES], cwd, env, params);

  const applicable = (attack: Attack) =>
    attack.needs === undefined || attack.needs(targets("jail", 0));

  beforeAll(async () => {
    world = makeWorld(runner.uid ?? 0);
    if (!existsSync("/tmp/.X11-unix")) {
      mkdirSync("/tmp/.X11-unix", { mode: 0o1777 });
      madeX11Dir = true;
    }
    const sockets = {
      dbus: join(world.runtimeDir, "bus"),
      docker: join(world.runtimeDir, "docker.sock"),
      wayland: join(world.runtimeDir, "wayland-0"),
      x11: x11Socket,
      sshAgent: join(world.sshDir, "agent.1"),
    };
    unixServers = await Promise.all(Object.values(sockets).map(helloServer));
    const [sleep, sleepArgs] = asRunner(runner, ["sleep", "600"]);
    sleeper = spawn(sleep, sleepArgs, { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sleeperTarget = {
      pid: sleeper.pid as number,
      address: firstMapping(sleeper.pid as number),
    };
    env = {
      HOME: world.home,
      PATH: "/usr/bin:/bin",
      XDG_RUNTIME_DIR: world.runtimeDir,
      TMPDIR: world.root,
      TERM: "dumb",
      ESCAPE_SECRET_TOKEN: secret,
      SSH_AUTH_SOCK: sockets.sshAgent,
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${sockets.dbus}`,
      WAYLAND_DISPLAY: "wayland-0",
      DISPLAY: `:${display}`,
      DOCKER_HOST: `unix://${sockets.docker}`,
    };
    targets = (side, runtimePid) => ({
      home: world.home,
      project: side === "jail" ? world.project : world.controlProject,
      outside: side === "jail" ? world.outside : world.controlOutside,
      otherUser: join(world.otherUser, "secret.txt"),
      storeFile,
      ...addresses,
      resolver,
      tcpPort: servers.tcpPort,
      udpPort: servers.udpPort,
      dnsPort: servers.dnsPort,
      sockets,
      abstract: `@${abstractName}`,
      x11Abstract: `@${x11Socket}`,
      sleeper: sleeperTarget,
      runtimePid,
      secret,
      credentialFile: join(world.home, ".escape", "auth.json"),
      fileSecrets: FILE_SECRETS,
      nofile: NOFILE,
      nproc: NPROC,
    });

    const attacks = ATTACKS.filter(applicable);
    const controlCalls = (kinds: readonly string[]) =>
      Object.fromEntries(
        attacks.flatMap((attack): [string, Call][] => {
          const control = attack.control;
          if (!kinds.includes(control.kind)) return [];
          const call = control.kind === "call" ? control.call : attack.call;
          return [[attack.name, call(targets("control", process.pid))]];
        }),
      );
    controls = await outside(runner, controlCalls(["same", "call"]), world.controlProject);
    rootControls = await outside(asRoot, controlCalls(["root"]), world.controlProject);

    // The attacks, in the jail, which holds while the host is looked at.
    const jail = jailed(world.project, (runtimePid) => ({
      calls: {
        ...Object.fromEntries(
          attacks.map((attack) => [attack.name, attack.call(targets("jail", runtimePid))]),
        ),
        ...DUMMY_CALLS(targets("jail", runtimePid)),
      },
      hold: true,
    }));
    inside = JSON.parse(await jail.line()) as Outcomes;
    const runDirs = readdirSync(join(world.runtimeDir, "jailed"));
    expect(runDirs).toHaveLength(1);
    const running: Running = {
      runtimePid: jail.child.pid as number,
      runDir: join(world.runtimeDir, "jailed", runDirs[0] as string),
      secret,
    };
    whileRunning = Object.fromEntries(
      attacks.flatMap((attack) =>
        attack.control.kind === "running" ? [[attack.name, attack.control.check(running)]] : [],
      ),
    );
    for (const path of [".envrc", ".mcp.json", ".vscode", ".git/commondir", ".claude/commands"]) {
      placeholdersDuringRun[path] = existsSync(join(world.project, path));
    }
    jail.child.stdin?.end();
    expect(await exited(jail.child), jail.stderr()).toBe(0);
  });

  afterAll(() => {
    sleeper?.kill("SIGKILL");
    for (const server of unixServers) server.close();
    if (madeX11Dir) rmSync("/tmp/.X11-unix", { recursive: true, force: true });
    if (world) rmSync(world.root, { recursive: true, force: true });
  });

  const expectControl = (attack: Attack): void => {
    const control = attack.control;
    switch (control.kind) {
      case "same":
      case "call":
        expect(controls[attack.name], "control, outside the jail").toMatchObject({ ok: true });
        return;
      case "root":
        expect(rootControls[attack.name], "control, outside the jail, as root").toMatchObject({
          ok: true,
        });
        return;
      case "host":
        expect(control.check(targets("control", 0)), "control, on the host").toBe(true);
        return;
      case "running":
        expect(whileRunning[attack.name], "control, on the host while the jail runs").toBe(true);
    }
  };

  it.each(ATTACKS.map((attack) => [attack.name, attack] as const))("%s", (_, attack) => {
    if (!applicable(attack)) return;
    expectControl(attack);
    const outcome = inside[attack.name];
    expect(outcome, "in the jail").toMatchObject({ ok: false });
    expect(attack.expected, JSON.stringify(outcome)).toContain(outcome?.error ?? "none");
  });

  it("hands the jail dummies in the real tokens' place and shape", () => {
    const dummy = inside["dummy env"]?.detail ?? "";
    expect(inside["dummy env"]?.ok).toBe(true);
    expect(dummy).not.toBe(secret);
    expect(dummy).toHaveLength(secret.length);
    const file = JSON.parse(inside["dummy file"]?.detail ?? "null") as Record<string, string>;
    expect(Object.keys(file)).toEqual(["access_token", "refresh_token"]);
    FILE_SECRETS.forEach((real, i) => {
      const copy = Object.values(file)[i] as string;
      expect(copy).not.toBe(real);
      expect(copy).toHaveLength(real.length);
    });
  });

  it("answers a proxied CONNECT to a denied host with 403", () => {
    const name = "CONNECT through the run's proxy to a host no rule allows";
    expect(inside[name]?.detail).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("made placeholders for the missing protected paths during the run, and removed them after", () => {
    expect(placeholdersDuringRun).toEqual({
      ".envrc": true,
      ".mcp.json": true,
      ".vscode": true,
      ".git/commondir": true,
      ".claude/commands": true,
    });
    // The symlinks the attacks made are the project's now; what they point at is untouched.
    expect(readdirSync(world.project).sort()).toEqual([
      ".git",
      "README",
      "link-config",
      "link-out",
    ]);
    const hooks = readdirSync(join(world.project, ".git", "hooks"));
    expect(hooks.filter((hook) => !hook.endsWith(".sample"))).toEqual([]);
    expect(readFileSync(join(world.project, ".git", "config"), "utf8")).not.toContain("planted");
    expect(existsSync(join(world.project, ".git", "commondir"))).toBe(false);
    expect(readFileSync(join(world.outside, "target.txt"), "utf8")).toBe("outside the jail\n");
    expect(readdirSync(world.root)).not.toContain("planted");
  });

  it(OWN_RUNS[1], async () => {
    const control = await outside(
      runner,
      { repoint: ["write", join(world.controlWorktree, ".git")] },
      world.controlWorktree,
    );
    expect(control.repoint, "control").toMatchObject({ ok: true });
    const gitFile = join(world.worktree, ".git");
    const before = readFileSync(gitFile, "utf8");
    const jail = jailed(world.worktree, () => ({ calls: { repoint: ["write", gitFile] } }));
    const outcome = (JSON.parse(await jail.line()) as Outcomes).repoint;
    expect(await exited(jail.child), jail.stderr()).toBe(0);
    expect(outcome).toMatchObject({ ok: false, error: "EROFS" });
    expect(readFileSync(gitFile, "utf8")).toBe(before);
    expect(readdirSync(world.worktree).sort()).toEqual([".git", "README"]);
  });

  // Before Linux 6.14 nothing holds root's processes: the kernel never applies RLIMIT_NPROC to uid 0.
  it.skipIf(runner.uid === null && !kernelHasPidNamespaceMax(release()))(OWN_RUNS[0], async () => {
    // Control: outside the jail, the same user starts more processes than the jail may hold.
    const control = await outside(
      runner,
      { many: ["fork-many", NPROC + 50] },
      world.controlProject,
    );
    expect(control.many, "control").toMatchObject({ ok: true });
    const marker = `bomb-${randomBytes(4).toString("hex")}`;
    const jail = jailed(world.project, () => ({ bomb: [3, marker] }));
    expect(await jail.line()).toBe("bombing");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // The host still starts processes while the bomb goes off.
    expect(spawnSync("true").status).toBe(0);
    const { most, refused } = JSON.parse(await jail.line()) as { most: number; refused: number };
    expect(await exited(jail.child)).toBe(0);
    // It went off: it multiplied, and was refused forks at the ceiling, which held.
    expect(most).toBeGreaterThan(NPROC / 4);
    expect(refused).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(NPROC);
    // Nothing of it outlives the jail: the kernel kills a pid namespace with its pid 1, which may
    // take a moment for a few hundred processes after bwrap has reported the exit.
    const survivors = () =>
      readdirSync("/proc").filter((pid) => {
        try {
          return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
        } catch {
          return false;
        }
      });
    for (let i = 0; i < 100 && survivors().length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(survivors()).toEqual([]);
  });
});

describe("SECURITY.md", () => {
  it("has a row for every attack of the suite", () => {
    const rows = readFileSync(join(repoRoot, "SECURITY.md"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("| "))
      .map((line) => line.split("|")[1]?.trim());
    for (const name of [...ATTACKS.map((attack) => attack.name), ...OWN_RUNS]) {
      expect(rows, name).toContain(name);
    }
  });
});
