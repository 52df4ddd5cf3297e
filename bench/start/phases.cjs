// Preloaded into the wrapper's node (NODE_OPTIONS="--require <this file>") to see where a jailed
// start goes. It marks, in ms since node's time origin: this preload (node has booted), the jail
// config read (the bundle has loaded), the closure list read (the config is validated and the jail
// module loaded), spawn called (the plan made, run files and seccomp filter written; for a staged
// store, the stager is spawned before the plan, and its exit is the jail's), bwrap
// spawned (node forked and exec'd it), bwrap gone (the jail ran), and process exit (cleanup);
// appends them as one JSON line to $BENCH_PHASES_FILE. CommonJS, like the runtime bundle: an ES
// module preload would boot node's ES module loader, which the wrapper itself no longer does. The
// bundle calls node:fs through its module object, and spawns through the process binding's class
// (src/runtime/linux/spawn.ts), so patching those is seen; loading node:child_process here would
// slow the very start this measures.
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
const { Process } = process.binding("process_wrap");
const { spawn } = Process.prototype;
Process.prototype.spawn = function (options) {
  mark("spawn called");
  const { onexit } = this;
  this.onexit = (...status) => {
    mark("bwrap exited");
    onexit(...status);
  };
  const error = spawn.call(this, options);
  mark("bwrap spawned");
  return error;
};

process.once("exit", () => {
  mark("exit");
  appendFileSync(process.env.BENCH_PHASES_FILE, `${JSON.stringify(marks)}\n`);
});
