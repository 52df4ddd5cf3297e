import { openSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { kernelHasPidNamespaceMax, pidNamespaceMax } from "../limits.js";

/**
 * Writes the jail's pid_max to `path` and opens it for bwrap's `--file` (BwrapInputs.pidMaxFd); null on
 * a kernel where pid_max is global, which the jail must never write.
 */
export function openPidMaxFd(path: string, nproc: number): number | null {
  if (!kernelHasPidNamespaceMax(release())) return null;
  writeFileSync(path, `${pidNamespaceMax(nproc)}\n`, { mode: 0o600 });
  return openSync(path, "r");
}
