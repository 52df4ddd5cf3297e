import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { nixBuild, withJailedLib } from "../support/nix.js";

/**
 * The runtime nix/lib.nix builds: the bundle and the V8 code cache its loader hands V8 (made by
 * the build with the node the launchers run). V8 refuses a cache it cannot use without a word,
 * so only asking it shows whether every start really skips parsing the bundle.
 */
let runtime: string;
let node: string;

beforeAll(() => {
  runtime = nixBuild(withJailedLib("jailedLib.runtime"));
  node = join(nixBuild(withJailedLib("pkgs.nodejs")), "bin", "node");
});

/** Whether V8 refuses the cache once it has been through `tamper`, as the launchers' node sees it. */
function cacheRejected(tamper: string): boolean {
  const script = `
    const { readFileSync } = require("node:fs");
    const { compileBundle } = require(${JSON.stringify(join(runtime, "load.cjs"))});
    const cache = readFileSync(${JSON.stringify(join(runtime, "jailed.cjs.cache"))});
    ${tamper}
    process.stdout.write(String(compileBundle(cache).cachedDataRejected));
  `;
  return execFileSync(node, ["-e", script], { encoding: "utf8" }) === "true";
}

describe("the runtime's code cache", () => {
  it("is taken by the launchers' node as it was built", () => {
    expect(cacheRejected("")).toBe(false);
  });

  it("control: a cache damaged in its header is refused, so the check above can fail", () => {
    expect(cacheRejected("cache[8] ^= 0xff;")).toBe(true);
  });

  it("loads the bundle's main through the loader", () => {
    const loaded = execFileSync(
      node,
      [
        "-e",
        `process.stdout.write(typeof require(${JSON.stringify(join(runtime, "load.cjs"))}).loadRuntime().main)`,
      ],
      { encoding: "utf8" },
    );
    expect(loaded).toBe("function");
  });
});
