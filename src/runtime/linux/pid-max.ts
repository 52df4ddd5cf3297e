import { openSync, writeFileSync } from "node:fs";
import { kernelHasPidNamespaceMax, pidNamespaceMax } from "../limits.js";

/**
 * Writes the jail's pid_max to `path` and opens it for bwrap's `--file` (BwrapInputs.pidMaxFd); null on
 * a kernel (its release, `uname -r`) where pid_max is global, which the jail must never write.
 */
export function openPidMaxFd(path: string, nproc: number, kernel: string): number | null {
  if (!kernelHasPidNamespaceMax(kernel)) return null;
  writeFileSync(path, `${pidNamespaceMax(nproc)}\n`, { mode: 0o600 });
  return openSync(path, "r");
}
