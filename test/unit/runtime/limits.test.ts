import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  kernelHasPidNamespaceMax,
  limitsStep,
  pidNamespaceMax,
} from "../../../src/runtime/limits.js";
import { jailEntry } from "../../../src/runtime/linux/entry.js";
import { kernelAtLeast } from "../../../src/runtime/linux/kernel.js";

describe("limitsStep", () => {
  it("sets each limit soft and hard and core dumps to 0, inherited through the agent's exec", () => {
    // What bash does with it, on this machine's bash.
    const [command, ...args] = jailEntry(
      "bash",
      [limitsStep({ nofile: 512, nproc: 77 })],
      ["bash", "-c", "ulimit -Sc; ulimit -Hc; ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu"],
    ) as [string, ...string[]];
    const result = spawnSync(command, args, { encoding: "utf8" });
    const [sc, hc, sn, hn, su, hu] = result.stdout.trim().split("\n");
    expect([sc, hc, sn, hn, su, hu]).toEqual(["0", "0", "512", "512", "77", "77"]);
    expect(result.status).toBe(0);
  });

  it("keeps a lower inherited hard limit instead of failing when asked for more", () => {
    // Without CAP_SYS_RESOURCE, as in the jail: an unprivileged user when the tests run as root.
    const asUser =
      process.getuid?.() === 0
        ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        : [];
    const higher = jailEntry(
      "bash",
      [limitsStep({ nofile: 100_000, nproc: 77 })],
      ["bash", "-c", "ulimit -Sn; ulimit -Hn"],
    );
    const [command, ...args] = [
      ...asUser,
      "bash",
      "-c",
      'ulimit -SHn 256 && exec "$@"',
      "outer",
      ...higher,
    ] as [string, ...string[]];
    const result = spawnSync(command, args, { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("256\n256\n");
  });
});

describe("pidNamespaceMax", () => {
  it("holds nproc tasks, within the kernel's bounds for pid_max", () => {
    expect(pidNamespaceMax(4096)).toBe(4097);
    expect(pidNamespaceMax(10)).toBe(301);
    expect(pidNamespaceMax(10_000_000)).toBe(4 * 1024 * 1024);
  });
});

describe("kernelAtLeast", () => {
  it("compares the release's major and minor, and says no to one it cannot read", () => {
    expect(kernelAtLeast("6.14.0", 6, 14)).toBe(true);
    expect(kernelAtLeast("6.14.0-rc1", 6, 15)).toBe(false);
    expect(kernelAtLeast("7.0.1", 6, 15)).toBe(true);
    expect(kernelAtLeast("5.19.0", 6, 1)).toBe(false);
    expect(kernelAtLeast("6.2.0", 6, 15)).toBe(false);
    expect(kernelAtLeast("", 1, 0)).toBe(false);
    expect(kernelAtLeast("weird", 1, 0)).toBe(false);
  });
});

describe("kernelHasPidNamespaceMax", () => {
  it("is true from Linux 6.14 on, and false for anything it cannot read", () => {
    for (const release of ["6.14.0", "6.18.44-fc-v595", "7.0.1", "6.14.0-rc1"]) {
      expect(kernelHasPidNamespaceMax(release), release).toBe(true);
    }
    for (const release of ["6.13.12-arch1-1", "5.15.0-91-generic", "4.19.0", "", "weird"]) {
      expect(kernelHasPidNamespaceMax(release), release).toBe(false);
    }
  });
});
