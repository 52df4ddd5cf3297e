import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STAGE_ABOVE_PATHS } from "../../src/runtime/linux/store-view.js";
import { startHttpUpstream, type Upstream } from "../proxy/helpers.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { buildFlakeOutput, closureOf, nixBuild, repoRoot } from "../support/nix.js";

let jailed: string;
let curl: string;
let bash: string;
/** A package whose closure alone is too big for bwrap to bind path by path. */
let bigPackage: string;
let upstream: Upstream;

beforeAll(async () => {
  jailed = join(buildFlakeOutput("jailed"), "bin", "jailed");
  curl = nixBuild(`(import ${repoRoot}/test/hostpkgs { }).curl`);
  bash = nixBuild(`(import ${repoRoot}/test/hostpkgs { }).bash`);
  bigPackage = nixBuild(`(import ${repoRoot}/test/hostpkgs { }).writeText "cli-big" (
    builtins.concatStringsSep "\\n" (
      builtins.genList (i: builtins.toFile "cli-big-\${toString i}" "x") ${STAGE_ABOVE_PATHS + 20}
    )
  )`);
  upstream = await startHttpUpstream((req, res) => res.end(`hello ${req.headers.host}\n`));
});
afterAll(async () => {
  await upstream?.close();
});

describe.each(RUNNERS)("jailed run, as $label", (runner) => {
  let sandbox: Sandbox;
  const run = (...args: string[]) =>
    runAsAsync(runner, sandbox, [jailed, "run", ...args], {
      XDG_STATE_HOME: join(sandbox.root, "state"),
      JAILED_TEST_UPSTREAMS: JSON.stringify({
        "allowed.test": { address: "127.0.0.1", port: upstream.port },
        "other.test": { address: "127.0.0.1", port: upstream.port },
      }),
    });

  beforeAll(() => {
    sandbox = makeSandbox(runner);
  });
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  // The CLI asks Nix for the closure of -p packages. Here Nix is a single-user install (no systemd
  // for the daemon), so only root can query the store: an unprivileged user gets exit 2 and Nix's
  // reason instead. On a multi-user install both runners take the same path.
  const nixUsable = runner.uid === null;

  it.runIf(!nixUsable)("stops with exit 2 when Nix cannot be asked for the closure", async () => {
    const result = await run("-p", curl, "--", "curl", "--version");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `jailed: cannot resolve the -p packages: nix-store -qR ${curl}`,
    );
  });

  it.runIf(nixUsable)(
    "runs a -p package's command with exactly the hosts --allow-host names",
    async () => {
      const result = await run(
        "-p",
        curl,
        "--allow-host",
        "allowed.test",
        "--",
        "curl",
        "-s",
        "-w",
        " %{http_code}\\n",
        "http://allowed.test/",
        "http://other.test/",
      );
      expect(result.stdout).toContain("hello allowed.test\n 200\n");
      expect(result.stdout).toMatch(/ 403\n$/);
      expect(result.stderr).toContain("--allow-host other.test");
      expect(result.status).toBe(0);
    },
  );

  it.runIf(nixUsable)(
    "builds -p attributes from the --nixpkgs flake; --network none has no network",
    async () => {
      const result = await run(
        "--nixpkgs",
        `path:${repoRoot}/test/hostpkgs`,
        "-p",
        "curl",
        "--network",
        "none",
        "--",
        "curl",
        "-sS",
        "http://allowed.test/",
      );
      expect(result.stderr).toContain("Could not resolve host: allowed.test");
      expect(result.status).toBe(6);
    },
  );

  it.runIf(nixUsable)(
    "gives a -p package with a big closure all of it, on mount points the stager makes",
    async () => {
      const result = await run(
        "-p",
        bash,
        "-p",
        bigPackage,
        "--network",
        "none",
        "--",
        "bash",
        "-c",
        "ls /nix/store; echo ---; cat /proc/self/mountinfo; echo ---; cat /nix/store/*-cli-big-7",
      );
      expect(result.stderr).toBe("");
      const [listing, mountinfo, file] = result.stdout.split("---\n") as [string, string, string];
      const listed = new Set(
        listing
          .trim()
          .split("\n")
          .map((name) => `/nix/store/${name}`),
      );
      for (const path of closureOf([bigPackage, bash])) expect(listed).toContain(path);
      // The build's store view knows nothing of -p packages: the stager made a tmpfs of mount points.
      expect(mountinfo).toMatch(/ \/nix\/store ro,nosuid,nodev\S* - tmpfs /);
      expect(file).toBe("x");
      expect(result.status).toBe(0);
    },
  );

  it("stops with exit 2 and a clear message on a bad request", async () => {
    const missing = await run("--", "jq", ".");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("jailed: jq is not in any package given with -p");
    const unknown = await run("--frobnicate", "--", "true");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown argument: frobnicate");
  });
});

describe("jailed run as a newcomer types it", () => {
  it("shows its options with --help", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jailed-cli-"));
    mkdirSync(join(dir, "p"));
    const sandbox = { root: dir, home: dir, project: join(dir, "p"), runtimeDir: dir };
    const result = await runAsAsync(RUNNERS[0] as (typeof RUNNERS)[0], sandbox, [
      jailed,
      "run",
      "--help",
    ]);
    expect(result.stdout).toContain("--allow-host");
    expect(result.status).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
