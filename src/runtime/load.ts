/**
 * Loads the runtime bundle (jailed.cjs, next to this file) with the V8 code cache that nix/lib.nix
 * makes when it builds the runtime. Without the cache node parses the whole bundle on every start;
 * with it V8 reads back what it compiled at build time. node 20's require() takes no code cache,
 * hence vm.Script, given the same wrapper require() would put around a CommonJS module.
 *
 * The cache lives in the runtime's store path and nowhere else: a cache in the user's home could be
 * written by a jail granted that directory, and V8 runs whatever bytecode a cache holds, outside
 * the jail. V8 itself refuses a cache made by another V8 or with other V8 flags (NODE_OPTIONS can
 * set some); the bundle is then compiled from source, as require() would.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";

const BUNDLE = join(__dirname, "jailed.cjs");
const CACHE = `${BUNDLE}.cache`;

/** What the bundle exports: main.ts's `main`. */
interface Runtime {
  main(argv: readonly string[]): void;
}

type ModuleFunction = (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string,
) => void;

/** The bundle compiled as require() would compile it, with `cachedData` when there is one. */
export function compileBundle(cachedData?: Buffer): Script {
  const source = readFileSync(BUNDLE, "utf8");
  return new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
}

/** The bundle's exports. */
export function loadRuntime(): Runtime {
  const script = compileBundle(readFileSync(CACHE));
  const module = { exports: {} };
  (script.runInThisContext() as ModuleFunction)(module.exports, require, module, BUNDLE, __dirname);
  return module.exports as Runtime;
}

/** Run once by the runtime's build, with the node the launchers run. */
export function writeCodeCache(): void {
  writeFileSync(CACHE, compileBundle().createCachedData());
}
