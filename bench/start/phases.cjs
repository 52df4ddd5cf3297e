// Preloaded into the wrapper's node (NODE_OPTIONS="--import <this file>") to see where a jailed
// start goes. It marks, in ms since node's time origin: this preload (node has booted), the jail
// config read (the bundle has loaded), the closure list read (the config is validated, the jail
// module imported and the plan made), spawn called (run files and seccomp filter written), bwrap
// spawned (node forked and exec'd it), bwrap gone (the jail ran), and process exit (cleanup);
// appends them as one JSON line to $BENCH_PHASES_FILE. It patches node:fs and node:child_process,
// which the bundle imports by name.
import childProcess from "node:child_process";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";

const marks = { preload: performance.now() };
const mark = (name) => {
  marks[name] ??= performance.now();
};

const { readFileSync, appendFileSync } = fs;
fs.readFileSync = (path, ...rest) => {
  if (typeof path === "string" && path.endsWith("-jail.json")) mark("config read");
  if (typeof path === "string" && path.endsWith("/store-paths")) mark("closure list read");
  return readFileSync(path, ...rest);
};
const { spawn } = childProcess;
childProcess.spawn = (...args) => {
  mark("spawn called");
  const child = spawn(...args);
  mark("bwrap spawned");
  child.once("exit", () => mark("bwrap exited"));
  return child;
};
syncBuiltinESMExports();

process.once("exit", () => {
  mark("exit");
  appendFileSync(process.env.BENCH_PHASES_FILE, `${JSON.stringify(marks)}\n`);
});
