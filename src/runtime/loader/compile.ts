import { Script } from "node:vm";

/** Where V8's code cache for a file of the runtime bundle lives: beside it. */
export const CACHE_SUFFIX = ".v8cache";

/**
 * The text V8 compiles for a CommonJS file of the runtime bundle. A code cache is only good for
 * exactly the text it was made from, so making it (make-cache.ts) and using it (load.ts) both go
 * through here. The wrapper keeps the file's line numbers.
 */
export function wrapSource(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

/**
 * A file of the runtime bundle, compiled with V8's code cache for it when this node accepts that
 * cache (made by the same node, with the same V8 flags), and from source otherwise.
 */
export function compileFile(filename: string, source: string, cachedData?: Buffer): Script {
  return new Script(wrapSource(source), { filename, cachedData });
}
