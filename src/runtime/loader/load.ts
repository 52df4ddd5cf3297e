/**
 * What the wrappers load: the runtime bundle, each of its files compiled with V8's code cache
 * (nix/lib.nix makes the caches when it builds the runtime, with the node that runs it). Compiling
 * the bundle from source was ~6 ms of a jailed start's CPU. Node 20 has no compile cache of its own
 * for CommonJS, so this loads the bundle's files itself: each once, the bundle's own `./` requires
 * through here and everything else through node's require.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CACHE_SUFFIX, compileFile } from "./compile.js";

interface BundleModule {
  exports: unknown;
}

const loaded = new Map<string, BundleModule>();

function cacheOf(file: string): Buffer | undefined {
  try {
    return readFileSync(file + CACHE_SUFFIX);
  } catch {
    // No cache (the bundle run from the repository): compile from source.
    return undefined;
  }
}

function load(file: string): unknown {
  const known = loaded.get(file);
  if (known !== undefined) return known.exports;
  const module: BundleModule = { exports: {} };
  loaded.set(file, module);
  const dir = dirname(file);
  const requireHere = (id: string): unknown =>
    id.startsWith("./") ? load(join(dir, id)) : require(id);
  const wrapper = compileFile(file, readFileSync(file, "utf8"), cacheOf(file)).runInThisContext();
  wrapper.call(module.exports, module.exports, requireHere, module, file, dir);
  return module.exports;
}

export const { main } = load(join(__dirname, "jailed.cjs")) as {
  main: (argv: readonly string[]) => void;
};
