import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CACHE_SUFFIX, wrapSource } from "../../src/runtime/loader/compile.js";
import { nixBuild, repoRoot, withJailedLib } from "../support/nix.js";

/** The bundle's own files, as load.cjs loads them (the loader's two files node loads itself). */
function bundleFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".cjs"))
    .filter((entry) => !["load.cjs", "make-cache.cjs"].includes(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe("the runtime as Nix builds it", () => {
  const runtime = nixBuild(withJailedLib("jailedLib.runtime"));
  const node = join(nixBuild(withJailedLib("pkgs.nodejs")), "bin", "node");

  it("holds a code cache for every file of the bundle that the wrappers' node accepts", () => {
    const files = bundleFiles(runtime);
    expect(files.map((file) => file.slice(runtime.length + 1))).toContain("jailed.cjs");
    // The check runs in the wrappers' node: a cache only holds for the node that made it.
    // The files go on stdin: the largest is over what one argument may hold.
    const rejected = execFileSync(
      node,
      [
        "-e",
        `const { Script } = require("node:vm");
         const { readFileSync } = require("node:fs");
         for (const [file, wrapped] of JSON.parse(readFileSync(0, "utf8"))) {
           const script = new Script(wrapped, { filename: file, cachedData: readFileSync(file + ${JSON.stringify(CACHE_SUFFIX)}) });
           if (script.cachedDataRejected) console.log(file);
         }`,
      ],
      {
        encoding: "utf8",
        input: JSON.stringify(files.map((file) => [file, wrapSource(readFileSync(file, "utf8"))])),
      },
    );
    expect(rejected).toBe("");
  });
});

describe("load.cjs", () => {
  it("runs the bundle from the repository too, with no cache, and a bad config stops it with exit 2", () => {
    const result = spawnSync(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(join(repoRoot, "nix", "runtime", "load.cjs"))}).main(["--config", "/nonexistent/jail.json", "--"])`,
      ],
      { encoding: "utf8" },
    );
    expect(result.stderr).toMatch(/^jailed: .*\/nonexistent\/jail\.json/);
    expect(result.status).toBe(2);
  });
});
