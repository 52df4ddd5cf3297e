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

/** What `script` writes to stdout, run by the launchers' node with the runtime's loader as `load`. */
function withLoader(script: string): string {
  const loader = `const load = require(${JSON.stringify(join(runtime, "load.cjs"))});\n`;
  return execFileSync(node, ["-e", loader + script], { encoding: "utf8" });
}

/** Whether V8 refuses the cache once it has been through `tamper`, as the launchers' node sees it. */
function cacheRejected(tamper: string): boolean {
  return (
    withLoader(`
      const cache = require("node:fs").readFileSync(${JSON.stringify(join(runtime, "jailed.cjs.cache"))});
      ${tamper}
      process.stdout.write(String(load.compileBundle(cache).cachedDataRejected));
    `) === "true"
  );
}

describe("the runtime's code cache", () => {
  it("is taken by the launchers' node as it was built", () => {
    expect(cacheRejected("")).toBe(false);
  });

  it("control: a cache damaged in its header is refused, so the check above can fail", () => {
    expect(cacheRejected("cache[8] ^= 0xff;")).toBe(true);
  });

  it("loads the bundle's main through the loader", () => {
    expect(withLoader("process.stdout.write(typeof load.loadRuntime().main)")).toBe("function");
  });
});
