import { describe, expect, it } from "vitest";
import {
  GO_FD,
  kernelMountsOnDetachedTrees,
  READY_FD,
  STAGED_STORE_STEP,
  stagerArgv,
} from "../../../src/runtime/linux/store-stager.js";
import {
  pathLines,
  planStoreView,
  STAGE_ABOVE_PATHS,
} from "../../../src/runtime/linux/store-view.js";

describe("planStoreView", () => {
  const many = Array.from({ length: STAGE_ABOVE_PATHS + 1 }, (_, i) => `/nix/store/p${i}-x`);
  const view = (entries: readonly string[]) => ({
    dir: "/nix/store/vvv-store-view",
    entries: () => entries,
  });

  it("lets bwrap bind a small closure itself, without reading the store view", () => {
    const plan = planStoreView(["/nix/store/a"], ["/nix/store/b", "/nix/store/a"], {
      dir: "/nix/store/vvv-store-view",
      entries: () => {
        throw new Error("read");
      },
    });
    expect(plan).toEqual({ kind: "binds", paths: ["/nix/store/a", "/nix/store/b"] });
  });

  it("uses the build's mount points for a big closure, leaving the first process's closure to bwrap", () => {
    const plan = planStoreView(many, [], view(["/nix/store/p0-x", "/nix/store/p1-x"]));
    expect(plan).toEqual({
      kind: "built",
      mountPoints: "/nix/store/vvv-store-view/store",
      direct: ["/nix/store/p0-x", "/nix/store/p1-x"],
      entries: "/nix/store/vvv-store-view/entries",
      clones: "/nix/store/vvv-store-view/clones",
    });
    // Paths already in the closure change nothing.
    expect(planStoreView(many, ["/nix/store/p5-x"], view(["/nix/store/p0-x"])).kind).toBe("built");
  });

  it("has the stager make the mount points when paths the build did not see are added", () => {
    const plan = planStoreView(many, ["/nix/store/zz-extra"], view(["/nix/store/p0-x"]));
    expect(plan.kind).toBe("made");
    if (plan.kind !== "made") return;
    expect(plan.direct).toEqual(["/nix/store/p0-x"]);
    expect(plan.staged).toHaveLength(many.length);
    expect(plan.staged).not.toContain("/nix/store/p0-x");
    expect(plan.staged).toContain("/nix/store/zz-extra");
  });

  it("refuses a shell whose closure is not in the jail's", () => {
    expect(() => planStoreView(many, [], view(["/nix/store/zzz-bash"]))).toThrow(
      "the jail's shell needs /nix/store/zzz-bash, which the closure lacks",
    );
  });

  it("writes a path a line, and refuses a path holding a newline", () => {
    expect(pathLines(["/nix/store/a", "/nix/store/b"])).toBe("/nix/store/a\n/nix/store/b\n");
    expect(() => pathLines(["/nix/store/a\nentry /etc"])).toThrow("store path contains a newline");
  });
});

describe("kernelMountsOnDetachedTrees", () => {
  it("is true from Linux 6.15 on", () => {
    expect(kernelMountsOnDetachedTrees("6.15.0")).toBe(true);
    expect(kernelMountsOnDetachedTrees("6.18.44-fc-v595")).toBe(true);
    expect(kernelMountsOnDetachedTrees("6.14.11-300.fc42.x86_64")).toBe(false);
    expect(kernelMountsOnDetachedTrees("6.6.63")).toBe(false);
  });
});

describe("the stager's argv", () => {
  it("passes the architecture's syscall numbers, then the inputs", () => {
    const made = {
      wholeTree: true,
      status: "/run/status",
      root: "/run/s",
      entries: "/run/entries",
      clones: "/run/clones",
      staging: "/run/s",
      launch: "/run/launch",
    };
    const argv = stagerArgv("/nix/store/p-perl/bin/perl", "x86_64", made);
    expect(argv.slice(0, 2)).toEqual(["/nix/store/p-perl/bin/perl", "-e"]);
    expect(argv.slice(3)).toEqual([
      "unshare=272,mount=165,mknodat=259,open_tree=428,move_mount=429,setns=308",
      "tree",
      "/run/status",
      "/run/s",
      "/run/entries",
      "/run/clones",
      "/run/s",
      "/run/launch",
    ]);
    expect(stagerArgv("/perl", "aarch64", made)[3]).toBe(
      "unshare=97,mount=40,mknodat=33,open_tree=428,move_mount=429,setns=268",
    );
    // Mount points the build made: nothing to make, so no staging directory.
    const built = {
      wholeTree: false,
      status: "/run/status",
      root: "/nix/store/v-view/store",
      entries: "/nix/store/v-view/entries",
      clones: "/nix/store/v-view/clones",
      staging: null,
      launch: "/run/launch",
    };
    expect(stagerArgv("/perl", "x86_64", built).slice(4, 11)).toEqual([
      "each",
      "/run/status",
      "/nix/store/v-view/store",
      "/nix/store/v-view/entries",
      "/nix/store/v-view/clones",
      "",
      "/run/launch",
    ]);
  });

  it("has the jail's first process signal, wait for ok, and close both pipes before the agent", () => {
    const script = STAGED_STORE_STEP;
    expect(script).toContain(`>&${READY_FD}`);
    expect(script).toContain(`exec ${READY_FD}>&-`);
    expect(script).toContain(`exec ${GO_FD}<&-`);
    expect(script).toContain("[[ $go == ok ]] || {");
  });
});
