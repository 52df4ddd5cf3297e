import { describe, expect, it } from "vitest";
import {
  GO_FD,
  READY_FD,
  STAGED_STORE_STEP,
  stagerArgv,
} from "../../../src/runtime/linux/store-stager.js";
import {
  closureOf,
  parseRegistration,
  planStoreView,
  STAGE_ABOVE_PATHS,
  stagerList,
  storePathOf,
} from "../../../src/runtime/linux/store-view.js";

// The format closureInfo writes: path, narHash, narSize, deriver, reference count, references.
const registration = [
  [
    "/nix/store/aaa-agent",
    "sha256:1",
    "10",
    "",
    "2",
    "/nix/store/bbb-bash",
    "/nix/store/ccc-glibc",
  ],
  ["/nix/store/bbb-bash", "sha256:2", "20", "", "2", "/nix/store/bbb-bash", "/nix/store/ccc-glibc"],
  ["/nix/store/ccc-glibc", "sha256:3", "30", "", "1", "/nix/store/ccc-glibc"],
  ["/nix/store/ddd-data", "sha256:4", "40", "", "0"],
]
  .flat()
  .join("\n")
  .concat("\n");

describe("parseRegistration and closureOf", () => {
  const references = parseRegistration(registration);

  it("reads each path's references", () => {
    expect([...references.keys()]).toEqual([
      "/nix/store/aaa-agent",
      "/nix/store/bbb-bash",
      "/nix/store/ccc-glibc",
      "/nix/store/ddd-data",
    ]);
    expect(references.get("/nix/store/ddd-data")).toEqual([]);
  });

  it("follows references, self-references included, and nothing else", () => {
    expect(closureOf(["/nix/store/bbb-bash"], references)).toEqual([
      "/nix/store/bbb-bash",
      "/nix/store/ccc-glibc",
    ]);
  });

  it("refuses a path the registration does not list", () => {
    expect(() => closureOf(["/nix/store/zzz-other"], references)).toThrow(
      "closure registration does not list /nix/store/zzz-other",
    );
  });

  it("refuses a truncated registration", () => {
    expect(() => parseRegistration("/nix/store/aaa-agent\nsha256:1\n10\n\n")).toThrow(
      "no reference count for /nix/store/aaa-agent",
    );
  });

  it("finds the store path of a file in it", () => {
    expect(storePathOf("/nix/store/bbb-bash/bin/bash")).toBe("/nix/store/bbb-bash");
    expect(() => storePathOf("/usr/bin/bash")).toThrow("not in the Nix store");
  });
});

describe("planStoreView", () => {
  const many = Array.from({ length: STAGE_ABOVE_PATHS + 1 }, (_, i) => `/nix/store/p${i}-x`);

  it("lets bwrap bind a small closure itself, without reading the registration", () => {
    const view = planStoreView(["/nix/store/a", "/nix/store/b"], () => {
      throw new Error("read");
    });
    expect(view).toEqual({ kind: "binds", paths: ["/nix/store/a", "/nix/store/b"] });
  });

  it("stages a big closure, leaving the first process's closure to bwrap", () => {
    const view = planStoreView(many, () => ["/nix/store/p0-x", "/nix/store/p1-x"]);
    expect(view.kind).toBe("staged");
    if (view.kind !== "staged") return;
    expect(view.direct).toEqual(["/nix/store/p0-x", "/nix/store/p1-x"]);
    expect(view.staged).toHaveLength(many.length - 2);
    expect(view.staged).not.toContain("/nix/store/p0-x");
    expect(stagerList(view).split("\n").slice(0, 3)).toEqual([
      "entry /nix/store/p0-x",
      "entry /nix/store/p1-x",
      "bind /nix/store/p2-x",
    ]);
  });

  it("refuses a shell whose closure is not in the jail's", () => {
    expect(() => planStoreView(many, () => ["/nix/store/zzz-bash"])).toThrow(
      "the jail's shell needs /nix/store/zzz-bash, which the closure lacks",
    );
  });
});

describe("the stager's argv", () => {
  it("passes the architecture's syscall numbers, then bwrap's argv untouched", () => {
    const dirs = { staging: "/run/s", tree: "/run/t" };
    const argv = stagerArgv("/nix/store/p-perl/bin/perl", "x86_64", dirs, "/run/l", [
      "/bwrap",
      "--args",
      "3",
    ]);
    expect(argv.slice(0, 2)).toEqual(["/nix/store/p-perl/bin/perl", "-e"]);
    expect(argv.slice(3)).toEqual([
      "272",
      "165",
      "/run/s",
      "/run/t",
      "/run/l",
      "--",
      "/bwrap",
      "--args",
      "3",
    ]);
    expect(stagerArgv("/perl", "aarch64", dirs, "/l", ["/b"]).slice(3, 5)).toEqual(["97", "40"]);
  });

  it("has the jail's first process signal, wait for ok, and close both pipes before the agent", () => {
    const script = STAGED_STORE_STEP;
    expect(script).toContain(`>&${READY_FD}`);
    expect(script).toContain(`exec ${READY_FD}>&-`);
    expect(script).toContain(`exec ${GO_FD}<&-`);
    expect(script).toContain("[[ $go == ok ]] || {");
  });
});
