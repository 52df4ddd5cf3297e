import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Who runs the wrapper: the test's own root, or an unprivileged uid via setpriv. */
export type Runner = { label: string; uid: number | null };
export const RUNNERS: readonly Runner[] = [
  { label: "root", uid: null },
  { label: "unprivileged", uid: 65534 },
];

/** A fake user's world: a home full of secrets, a project, and a runtime dir for the run's files. */
export interface Sandbox {
  root: string;
  home: string;
  project: string;
  runtimeDir: string;
}

export function makeSandbox(runner: Runner): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "jailed-test-"));
  const home = join(root, "home");
  const project = join(root, "project");
  const runtimeDir = join(root, "run");
  for (const dir of [home, join(home, ".ssh"), join(home, ".aws"), project, runtimeDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  writeFileSync(join(home, ".ssh", "id_ed25519"), "PRIVATE KEY\n");
  writeFileSync(join(home, ".aws", "credentials"), "[default]\naws_secret_access_key = x\n");
  writeFileSync(join(home, "notes.txt"), "host home file\n");
  writeFileSync(join(project, "README"), "the project\n");
  if (runner.uid !== null) chownTree(root, runner.uid);
  return { root, home, project, runtimeDir };
}

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    chownSync(join(entry.parentPath, entry.name), uid, uid);
  }
}

function command(runner: Runner, argv: readonly string[]): [string, string[]] {
  if (runner.uid === null) return [argv[0] as string, argv.slice(1)];
  const id = String(runner.uid);
  return ["setpriv", [`--reuid=${id}`, `--regid=${id}`, "--clear-groups", "--", ...argv]];
}

function options(sandbox: Sandbox, extraEnv: Record<string, string>): SpawnOptions {
  return {
    cwd: sandbox.project,
    env: {
      HOME: sandbox.home,
      PATH: "/usr/bin:/bin",
      XDG_RUNTIME_DIR: sandbox.runtimeDir,
      TERM: "dumb",
      ...extraEnv,
    },
  };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runAs(
  runner: Runner,
  sandbox: Sandbox,
  argv: readonly string[],
  extraEnv: Record<string, string> = {},
): RunResult {
  const [file, args] = command(runner, argv);
  const result = spawnSync(file, args, {
    ...options(sandbox, extraEnv),
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function spawnAs(
  runner: Runner,
  sandbox: Sandbox,
  argv: readonly string[],
  extraEnv: Record<string, string> = {},
) {
  const [file, args] = command(runner, argv);
  return spawn(file, args, { ...options(sandbox, extraEnv), stdio: ["ignore", "pipe", "pipe"] });
}

/** Like runAs, without blocking the event loop: for tests whose servers run in this process. */
export async function runAsAsync(
  runner: Runner,
  sandbox: Sandbox,
  argv: readonly string[],
  extraEnv: Record<string, string> = {},
  input?: string,
): Promise<RunResult> {
  const [file, args] = command(runner, argv);
  const child = spawn(file, args, {
    ...options(sandbox, extraEnv),
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  child.stdin?.end(input);
  return collectOutput(child);
}

/** A child's stdout, stderr and exit status, once it has closed. */
export async function collectOutput(child: ChildProcess): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { status, stdout, stderr };
}
