// Makes the seccomp workload's tree once: 100,000 one-byte files in 100 directories of 1,000, under
// DIR/files. Usage: node bench/start/make-tree.mjs DIR   (a no-op once DIR/complete exists)
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DIRECTORIES = 100;
const FILES_PER_DIRECTORY = 1000;

const root = process.argv[2];
if (root === undefined) throw new Error("usage: make-tree.mjs DIR");
const marker = join(root, "complete");
if (!existsSync(marker)) {
  // A half-made tree from an interrupted run would skew the count: start over.
  rmSync(root, { recursive: true, force: true });
  for (let d = 0; d < DIRECTORIES; d++) {
    const dir = join(root, "files", `d${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_DIRECTORY; f++) writeFileSync(join(dir, `f${f}`), "x");
  }
  writeFileSync(marker, "");
}
