// Prints what the figures depend on, as JSON: date, the commit measured (and whether the runtime or
// the Nix code had uncommitted changes), CPU, cores, kernel, the load average as the bench begins,
// and the versions of the store's bubblewrap and node and of hyperfine.
// Usage (from the repository's root): node bench/start/machine.mjs BWRAP NODE
import { execFileSync } from "node:child_process";
import { cpus, loadavg, release } from "node:os";

const [bwrap, node] = process.argv.slice(2);
if (bwrap === undefined || node === undefined) throw new Error("usage: machine.mjs BWRAP NODE");
const run = (command, args) =>
  execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
const version = (command) => run(command, ["--version"]);

function revision() {
  try {
    const commit = run("git", ["rev-parse", "--short", "HEAD"]);
    const changed = run("git", ["status", "--porcelain", "--", "src", "nix"]) !== "";
    return changed ? `${commit} with uncommitted changes in src/ or nix/` : commit;
  } catch {
    return "not a git checkout";
  }
}
const processors = cpus();
process.stdout.write(
  `${JSON.stringify({
    date: new Date().toISOString(),
    revision: revision(),
    cpu: processors[0]?.model ?? "unknown",
    cores: processors.length,
    kernel: release(),
    // Other work on the machine shows in the spread; this is the 1-minute load when the bench began.
    load: loadavg()[0],
    bwrap: version(bwrap),
    node: version(node),
    hyperfine: version("hyperfine"),
  })}\n`,
);
