/**
 * How the jail's /nix/store gets exactly the closure. bwrap binds each path itself while the closure is
 * small. Past STAGE_ABOVE_PATHS that costs O(n²): after every bind bubblewrap ≤ 0.11 re-reads and
 * re-parses the whole mount table (containers/bubblewrap#384), seconds for 2,000 paths. A big closure is
 * staged instead (store-stager.ts): bwrap binds a directory of empty mount points at /nix/store, and the
 * stager puts each path on its mount point once the jail is set up.
 *
 * The build prepares those mount points (nix/lib.nix, `storeView`): the view's `store/` holds one per
 * closure path (a symlink path as the symlink), `entries` lists the shell's closure and `clones` every
 * other path but the symlinks. Paths the build did not see (the CLI's packages) need mount points made
 * at run time, on a tmpfs.
 */

/** Measured crossover on bubblewrap 0.8 (bench/RESULTS.md, the closure rows): staging costs ~3 ms more up to here. */
export const STAGE_ABOVE_PATHS = 100;

export type StoreView =
  /** bwrap binds each path read-only. */
  | { kind: "binds"; paths: readonly string[] }
  /**
   * bwrap binds the build's `mountPoints` at /nix/store and `direct` (the closure of the jail's first
   * process, the shell that waits for the stager; the file `entries` lists it) over them, so that the
   * shell can start; the stager puts in the paths listed in the file `clones` too.
   */
  | {
      kind: "built";
      mountPoints: string;
      direct: readonly string[];
      entries: string;
      clones: string;
    }
  /** As "built", but the stager makes every mount point, on a tmpfs, and puts in `staged`. */
  | { kind: "made"; direct: readonly string[]; staged: readonly string[] };

/** The store view a build made (nix/lib.nix): its directory, and a reader for its `entries`. */
export interface BuiltStoreView {
  dir: string;
  entries: () => readonly string[];
}

/**
 * Picks how to build the store for the closure plus `extraPaths`. `view.entries` is only called for a
 * big closure; the paths it returns must all be in the closure.
 */
export function planStoreView(
  closure: readonly string[],
  extraPaths: readonly string[],
  view: BuiltStoreView,
): StoreView {
  // A wrapper adds nothing: no set of thousands of paths to build on its every start.
  const inClosure = extraPaths.length === 0 ? null : new Set(closure);
  const added = [...new Set(extraPaths)].filter((path) => !inClosure?.has(path));
  const paths = added.length === 0 ? closure : [...closure, ...added];
  if (paths.length <= STAGE_ABOVE_PATHS) return { kind: "binds", paths };
  const direct = view.entries();
  const missing = direct.filter((path) => !closure.includes(path));
  if (missing.length > 0) {
    throw new Error(`the jail's shell needs ${missing.join(", ")}, which the closure lacks`);
  }
  if (added.length === 0) {
    return {
      kind: "built",
      mountPoints: `${view.dir}/store`,
      direct,
      entries: `${view.dir}/entries`,
      clones: `${view.dir}/clones`,
    };
  }
  const directSet = new Set(direct);
  return { kind: "made", direct, staged: paths.filter((path) => !directSet.has(path)) };
}

/** A list file for the stager: a path a line. */
export function pathLines(paths: readonly string[]): string {
  const bad = paths.find((path) => path.includes("\n"));
  if (bad !== undefined) throw new Error(`store path contains a newline: ${JSON.stringify(bad)}`);
  return paths.map((path) => `${path}\n`).join("");
}
