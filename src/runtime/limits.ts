import type { Limits } from "../spec/jail-config.js";
import { kernelAtLeast } from "./linux/kernel.js";

/**
 * The bash lines that set the jail's resource limits, for the jail's first process. Each limit is set
 * hard as well as soft, and raising a hard limit needs CAP_SYS_RESOURCE in the host's user namespace,
 * which nothing in the jail has. A limit above the host's hard limit cannot be set; the inherited,
 * lower one then stays, which is never looser than asked. Core dumps are always off: a dump holds the
 * process's memory, credentials included, and the host's core handler runs outside the jail.
 */
export function limitsStep(limits: Limits): string {
  return [
    "ulimit -SHc 0 || exit 2",
    `ulimit -SHn ${limits.nofile} 2>/dev/null`,
    `ulimit -SHu ${limits.nproc} 2>/dev/null`,
  ].join("\n");
}

/** The kernel refuses a pid namespace's pid_max outside these bounds (RESERVED_PIDS + 1, PID_MAX_LIMIT). */
const PID_MAX_MIN = 301;
const PID_MAX_LIMIT = 4 * 1024 * 1024;

/**
 * The jail's pid namespace hands out pids below its pid_max, so it holds at most pid_max - 1 tasks
 * (processes and threads). Unlike RLIMIT_NPROC, which the kernel never applies to uid 0, this binds
 * root too; it cannot go below 300.
 */
export function pidNamespaceMax(nproc: number): number {
  return Math.min(Math.max(nproc + 1, PID_MAX_MIN), PID_MAX_LIMIT);
}

/**
 * Linux 6.14 made kernel.pid_max a per-pid-namespace setting. Before it the sysctl is global, and the
 * jail's setup, which runs as root when the user is root, would lower it for the whole machine: only a
 * kernel known to have it gets one.
 */
export function kernelHasPidNamespaceMax(release: string): boolean {
  return kernelAtLeast(release, 6, 14);
}
