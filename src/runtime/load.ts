/**
 * Loads the runtime bundle (jailed.cjs, next to this file) with a V8 code cache that nix/lib.nix
 * makes when it builds a launcher. Without a cache node parses the whole bundle on every start, and
 * compiles each function a start calls; with one V8 reads back what the build compiled. node 20's
 * require() takes no code cache, hence vm.Script, given the same wrapper require() would put around
 * a CommonJS module.
 *
 * Each launcher has its own cache, made after a warm-up on its own JailConfig (main.ts, warmUp):
 * V8 puts into a cache every function compiled by then, not only the bundle's top level.
 *
 * A cache lives in the store and nowhere else: a cache in the user's home could be written by a jail
 * granted that directory, and V8 runs whatever bytecode a cache holds, outside the jail. V8 itself
 * refuses a cache made by another V8 or with other V8 flags (NODE_OPTIONS can set some); the bundle
 * is then compiled from source, as require() would.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";

const BUNDLE = join(__dirname, "jailed.cjs");

/** What the bundle exports (main.ts). */
interface Runtime {
  main(argv: readonly string[]): void;
  warmUp(argv: readonly string[]): Promise<void>;
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

function run(script: Script): Runtime {
  const module = { exports: {} };
  (script.runInThisContext() as ModuleFunction)(module.exports, require, module, BUNDLE, __dirname);
  return module.exports as Runtime;
}

/** The bundle's exports, compiled with the code cache in `cacheFile`. */
export function loadRuntime(cacheFile: string): Runtime {
  return run(compileBundle(readFileSync(cacheFile)));
}

/**
 * Run by a launcher's build, with the node the launcher runs and its arguments. A warm-up that
 * stops (a config the runtime would refuse at its start, say) leaves a cache of what compiled so
 * far, and says so in the build's log: the start then reports the problem itself.
 */
export async function writeCodeCache(cacheFile: string, argv: readonly string[]): Promise<void> {
  const script = compileBundle();
  try {
    await run(script).warmUp(argv);
  } catch (error) {
    process.stderr.write(`jailed: the code cache's warm-up stopped: ${(error as Error).message}\n`);
  }
  writeFileSync(cacheFile, script.createCachedData());
}
