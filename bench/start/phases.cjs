// Preloaded into the wrapper's node (NODE_OPTIONS="--require <this file>") to see where a jailed
// start goes. It marks, in ms since node's time origin: this preload (node has booted), the jail
// config read (the bundle has loaded), the closure list read (the config is validated, the jail
// module loaded and the plan made), spawn called (run files and seccomp filter written), bwrap
// spawned (node forked and exec'd it), bwrap gone (the jail ran), and process exit (cleanup);
// appends them as one JSON line to $BENCH_PHASES_FILE. CommonJS, like the runtime bundle: an ES
// module preload would boot node's ES module loader, which the wrapper itself no longer does. The
// bundle calls node:fs and node:child_process through their module objects, so patching those
// objects is seen.
const childProcess = require("node:child_process");
const fs = require("node:fs");

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

process.once("exit", () => {
  mark("exit");
  appendFileSync(process.env.BENCH_PHASES_FILE, `${JSON.stringify(marks)}\n`);
});
