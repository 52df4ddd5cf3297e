/**
 * How the jail's /nix/store gets exactly the closure. bwrap binds each path itself while the closure is
 * small. Past STAGE_ABOVE_PATHS that costs O(n²): after every bind bubblewrap ≤ 0.11 re-reads and
 * re-parses the whole mount table (containers/bubblewrap#384), seconds for 2,000 paths. A big closure is
 * staged instead (store-stager.ts): bwrap binds one empty directory at /nix/store, and the stager puts
 * the whole closure over it once the jail is set up.
 */

/** Measured crossover on bubblewrap 0.8 (bench/RESULTS.md, the closure rows): staging costs ~3 ms more up to here. */
export const STAGE_ABOVE_PATHS = 100;

export type StoreView =
  /** bwrap binds each path read-only. */
  | { kind: "binds"; paths: readonly string[] }
  /**
   * `direct` (the closure of the jail's first process, the shell that waits for the stager) is bound by
   * bwrap itself, so that the shell can start; the stager's tree then holds every path.
   */
  | { kind: "staged"; direct: readonly string[]; staged: readonly string[] };

/** closureInfo's `registration` (the `nix-store --load-db` format): each path with its references. */
export function parseRegistration(text: string): Map<string, string[]> {
  const lines = text.split("\n");
  const references = new Map<string, string[]>();
  let at = 0;
  while (at < lines.length && lines[at] !== "") {
    const path = lines[at] as string;
    // path, narHash, narSize, deriver, the number of references, then the references.
    const countLine = lines[at + 4] ?? "";
    if (!/^\d+$/.test(countLine)) {
      throw new Error(`closure registration: no reference count for ${path}`);
    }
    const count = Number(countLine);
    if (at + 5 + count > lines.length) {
      throw new Error(`closure registration: references of ${path} cut short`);
    }
    references.set(path, lines.slice(at + 5, at + 5 + count));
    at += 5 + count;
  }
  return references;
}

/** The store path a file belongs to: /nix/store/<hash>-<name>/bin/x -> /nix/store/<hash>-<name>. */
export function storePathOf(file: string): string {
  const match = /^\/nix\/store\/[^/]+/.exec(file);
  if (match === null) throw new Error(`not in the Nix store: ${file}`);
  return match[0];
}

/** Every path `roots` reach through references, the roots included. */
export function closureOf(
  roots: readonly string[],
  references: ReadonlyMap<string, readonly string[]>,
): string[] {
  const seen = new Set<string>();
  const pending = [...roots];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (seen.has(path)) continue;
    const refs = references.get(path);
    if (refs === undefined) throw new Error(`closure registration does not list ${path}`);
    seen.add(path);
    pending.push(...refs);
  }
  return [...seen].sort();
}

/**
 * Picks how to build the store. `firstProcessClosure` is only called for a big closure (it reads the
 * registration); the paths it returns must all be in `paths`.
 */
export function planStoreView(
  paths: readonly string[],
  firstProcessClosure: () => readonly string[],
): StoreView {
  if (paths.length <= STAGE_ABOVE_PATHS) return { kind: "binds", paths };
  const direct = firstProcessClosure();
  const all = new Set(paths);
  const missing = direct.filter((path) => !all.has(path));
  if (missing.length > 0) {
    throw new Error(`the jail's shell needs ${missing.join(", ")}, which the closure lacks`);
  }
  const directSet = new Set(direct);
  return { kind: "staged", direct, staged: paths.filter((path) => !directSet.has(path)) };
}

/** The stager's input: a line per closure path, `entry` for those bwrap binds too (it needs their mount points). */
export function stagerList(view: Extract<StoreView, { kind: "staged" }>): string {
  const lines = [
    ...view.direct.map((path) => `entry ${path}`),
    ...view.staged.map((path) => `bind ${path}`),
  ];
  for (const line of lines) {
    if (line.includes("\n"))
      throw new Error(`store path contains a newline: ${JSON.stringify(line)}`);
  }
  return `${lines.join("\n")}\n`;
}
