/**
 * Writes V8's code cache beside each file of the runtime bundle in the directory it is given. Run
 * by nix/lib.nix when it builds the runtime, with the node the wrappers run: a cache is only good
 * for the node (and V8 flags) that made it. The files are compiled, not run: the cache holds each
 * file's top level and the functions V8 compiles eagerly, and the rest compiles on first call.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE_SUFFIX, compileFile } from "./compile.js";

const [dir] = process.argv.slice(2);
if (dir === undefined) throw new Error("usage: make-cache.cjs <runtime directory>");
const loaderFiles = new Set(["load.cjs", "make-cache.cjs"]);
for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".cjs") || loaderFiles.has(entry.name)) continue;
  const file = join(entry.parentPath, entry.name);
  const script = compileFile(file, readFileSync(file, "utf8"));
  writeFileSync(file + CACHE_SUFFIX, script.createCachedData());
}
