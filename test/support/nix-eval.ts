import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why Nix-evaluating tests must skip, or undefined when `nix-instantiate` runs here. */
export const nixUnavailable: string | undefined = (() => {
  const probe = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" });
  if (probe.error !== undefined) return `nix-instantiate is not installed (${probe.error.message})`;
  return probe.status === 0 ? undefined : `nix-instantiate --version failed: ${probe.stderr}`;
})();

/**
 * Writes `source` to `main.nix` in a fresh temporary directory (returned, already removed, so
 * callers can predict what relative paths resolve to) and evaluates it with
 * `nix-instantiate --eval --strict --json`, read-only: nothing is added to the store.
 * Returns the raw JSON text; throws with Nix's message when evaluation fails.
 */
export function evalNixJson(source: string): { json: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "jailed-nix-eval-"));
  try {
    const file = join(dir, "main.nix");
    writeFileSync(file, source);
    const result = spawnSync(
      "nix-instantiate",
      ["--readonly-mode", "--eval", "--strict", "--json", file],
      {
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
      },
    );
    if (result.error !== undefined) throw result.error;
    if (result.status !== 0) throw new Error(`nix-instantiate failed:\n${result.stderr}`);
    return { json: result.stdout, dir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
