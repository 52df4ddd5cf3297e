import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nixBuild, withJailedLib } from "../support/nix.js";

/**
 * The runtime nix/lib.nix builds, and a launcher's V8 code cache: made by the launcher's build with
 * the node the launcher runs, after a warm-up on the launcher's own JailConfig. V8 refuses a cache
 * it cannot use without a word, so only asking it shows whether every start really skips compiling.
 */
let runtime: string;
let launcher: string;
let node: string;
let scratch: string;

beforeAll(() => {
  runtime = nixBuild(withJailedLib("jailedLib.runtime"));
  launcher = nixBuild(
    withJailedLib(`jailedLib.launcher "probe" [
      "--config"
      (jailedLib.makeJailedAgent { name = "probe"; pkg = pkgs.bash; command = "bash"; }).configFile
      "--"
    ]`),
  );
  node = join(nixBuild(withJailedLib("pkgs.nodejs")), "bin", "node");
  scratch = mkdtempSync(join(tmpdir(), "jailed-cache-test-"));
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const loaderLine = () => `const load = require(${JSON.stringify(join(runtime, "load.cjs"))});\n`;

/** What `script` writes to stdout, run by the launchers' node with the runtime's loader as `load`. */
function withLoader(script: string): string {
  return execFileSync(node, ["-e", loaderLine() + script], { encoding: "utf8" });
}

/** Whether V8 refuses the launcher's cache once it has been through `tamper`. */
function cacheRejected(tamper: string): boolean {
  return (
    withLoader(`
      const cache = require("node:fs").readFileSync(${JSON.stringify(join(launcher, "runtime.cache"))});
      ${tamper}
      process.stdout.write(String(load.compileBundle(cache).cachedDataRejected));
    `) === "true"
  );
}

/** Runs the loader's writeCodeCache as a launcher's build does, in empty directories of its own. */
function writeCodeCache(argv: readonly string[]) {
  const dir = mkdtempSync(join(scratch, "build-"));
  for (const name of ["home", "tmp", "cwd"]) execFileSync("mkdir", [join(dir, name)]);
  const cache = join(dir, "cwd", "runtime.cache");
  const result = spawnSync(
    node,
    [
      "-e",
      `${loaderLine()}load.writeCodeCache(process.argv[1], JSON.parse(process.argv[2]))`,
      cache,
      JSON.stringify(argv),
    ],
    {
      cwd: join(dir, "cwd"),
      env: { PATH: "/usr/bin:/bin", HOME: join(dir, "home"), TMPDIR: join(dir, "tmp") },
      encoding: "utf8",
    },
  );
  return { ...result, dir, cache };
}

describe("a launcher's code cache", () => {
  it("is taken by the launchers' node as it was built", () => {
    expect(cacheRejected("")).toBe(false);
  });

  it("control: a cache damaged in its header is refused, so the check above can fail", () => {
    expect(cacheRejected("cache[8] ^= 0xff;")).toBe(true);
  });

  it("holds the functions the warm-up ran, not only the bundle's top level", () => {
    // V8 puts a function's bytecode in a cache only once it is compiled, that is, once it has run.
    const topLevelOnly = Number(
      withLoader("process.stdout.write(String(load.compileBundle().createCachedData().length))"),
    );
    expect(statSync(join(launcher, "runtime.cache")).size).toBeGreaterThan(topLevelOnly * 1.5);
  });

  it("loads the bundle's main through the loader", () => {
    const cache = JSON.stringify(join(launcher, "runtime.cache"));
    expect(withLoader(`process.stdout.write(typeof load.loadRuntime(${cache}).main)`)).toBe(
      "function",
    );
  });

  it("is made by a warm-up that writes nothing but the cache", () => {
    const config = /"--config","([^"]+)"/.exec(
      readFileSync(join(launcher, "bin", "probe"), "utf8"),
    )?.[1] as string;
    const built = writeCodeCache(["--config", config, "--"]);
    expect(built.stderr).toBe("");
    expect(built.status).toBe(0);
    expect(readdirSync(built.dir, { recursive: true }).sort()).toEqual([
      "cwd",
      "cwd/runtime.cache",
      "home",
      "tmp",
    ]);
  });

  it("is still written when the warm-up stops, and the build's log says why", () => {
    const built = writeCodeCache(["--config", "/nonexistent/jail.json", "--"]);
    expect(built.status).toBe(0);
    expect(built.stderr).toContain(
      "jailed: the code cache's warm-up stopped: cannot read jail config /nonexistent/jail.json",
    );
    expect(statSync(built.cache).size).toBeGreaterThan(0);
  });
});
