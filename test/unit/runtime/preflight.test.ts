import { describe, expect, it } from "vitest";
import { userNamespaceProblem } from "../../../src/runtime/linux/preflight.js";

const reader = (values: Record<string, string>) => (path: string) => values[path] ?? null;

describe("userNamespaceProblem", () => {
  it("finds nothing wrong where no switch is set", () => {
    expect(userNamespaceProblem(reader({}), 1000)).toBeNull();
  });

  it("names Debian's switch for unprivileged users only", () => {
    const debian = reader({ "/proc/sys/kernel/unprivileged_userns_clone": "0" });
    expect(userNamespaceProblem(debian, 1000)).toContain("kernel.unprivileged_userns_clone = 0");
    expect(userNamespaceProblem(debian, 0)).toBeNull();
  });

  it("names Ubuntu's AppArmor restriction", () => {
    const ubuntu = reader({ "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1" });
    expect(userNamespaceProblem(ubuntu, 1000)).toContain("AppArmor");
  });

  it("stops root too when user namespaces are off entirely", () => {
    const off = reader({ "/proc/sys/user/max_user_namespaces": "0" });
    expect(userNamespaceProblem(off, 0)).toContain("user.max_user_namespaces = 0");
  });
});
