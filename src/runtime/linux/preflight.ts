/** Reads a small /proc/sys file; null when it does not exist. */
export type SysctlReader = (path: string) => string | null;

/**
 * Why unprivileged bubblewrap cannot make its namespaces here, with what to do about it; null when nothing
 * known stands in the way. Pure over the reader so each distribution's switch is tested on values.
 */
export function userNamespaceProblem(read: SysctlReader, uid: number): string | null {
  if (read("/proc/sys/user/max_user_namespaces") === "0") {
    return "user namespaces are disabled (user.max_user_namespaces = 0); enable them with `sysctl -w user.max_user_namespaces=15000`";
  }
  if (uid === 0) return null;
  if (read("/proc/sys/kernel/unprivileged_userns_clone") === "0") {
    return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); enable them with `sysctl -w kernel.unprivileged_userns_clone=1`";
  }
  if (read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === "1") {
    return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1); allow bubblewrap with an AppArmor profile granting `userns` (see the README), or set the sysctl to 0";
  }
  return null;
}
