import { describe, expect, it } from "vitest";
import { JailSetupError } from "../../../src/runtime/errors.js";
import {
  excludeWithPlaceholders,
  type PathKind,
  placeholderContent,
  planProtection,
} from "../../../src/runtime/protection.js";

const cwd = "/work/project";
const DEFAULTS = [
  ".git/config",
  ".git/commondir",
  ".git/hooks/",
  ".envrc",
  ".mcp.json",
  ".vscode/",
  ".claude/commands/",
];

/** A host where exactly these paths (relative to cwd) exist. */
const host =
  (paths: Record<string, PathKind>) =>
  (path: string): PathKind =>
    paths[path.slice(cwd.length + 1)] ?? "absent";

describe("planProtection", () => {
  it("binds what exists read-only, anchoring the directories on the way", () => {
    const plan = planProtection(
      cwd,
      DEFAULTS,
      host({
        ".git": "dir",
        ".git/config": "file",
        ".git/hooks": "dir",
        ".envrc": "file",
        ".mcp.json": "file",
        ".vscode": "dir",
        ".claude": "dir",
        ".claude/commands": "dir",
      }),
    );
    expect(plan.anchors).toEqual([`${cwd}/.claude`, `${cwd}/.git`]);
    expect(plan.readOnly).toEqual([
      `${cwd}/.envrc`,
      `${cwd}/.mcp.json`,
      `${cwd}/.vscode`,
      `${cwd}/.claude/commands`,
      `${cwd}/.git/commondir`,
      `${cwd}/.git/config`,
      `${cwd}/.git/hooks`,
    ]);
    expect(plan.placeholders).toEqual([
      { path: `${cwd}/.git/commondir`, kind: "file", content: ".\n" },
    ]);
  });

  it("makes placeholders of the declared kind, parents first, for missing paths", () => {
    const plan = planProtection(cwd, DEFAULTS, host({ ".git": "dir", ".git/config": "file" }));
    expect(plan.placeholders).toEqual([
      { path: `${cwd}/.git/commondir`, kind: "file", content: ".\n" },
      { path: `${cwd}/.git/hooks`, kind: "dir", content: "" },
      { path: `${cwd}/.envrc`, kind: "file", content: "" },
      { path: `${cwd}/.mcp.json`, kind: "file", content: "{}\n" },
      { path: `${cwd}/.vscode`, kind: "dir", content: "" },
      { path: `${cwd}/.claude`, kind: "dir", content: "" },
      { path: `${cwd}/.claude/commands`, kind: "dir", content: "" },
    ]);
    // A placeholder parent is anchored like an existing one: it cannot be renamed away.
    expect(plan.anchors).toEqual([`${cwd}/.claude`, `${cwd}/.git`]);
    expect(plan.readOnly).toContain(`${cwd}/.claude/commands`);
  });

  it("never creates a .git, so nothing under .git/ is protected without a repository", () => {
    const plan = planProtection(cwd, [...DEFAULTS, "sub/.git/"], host({}));
    const paths = [...plan.placeholders.map((p) => p.path), ...plan.anchors, ...plan.readOnly];
    expect(paths.filter((path) => path.includes(".git"))).toEqual([]);
    expect(plan.readOnly).toContain(`${cwd}/.envrc`);
  });

  it("binds a .git file (a worktree's or a submodule's) read-only, so it cannot be repointed", () => {
    const plan = planProtection(cwd, DEFAULTS, host({ ".git": "file" }));
    expect(plan.readOnly).toContain(`${cwd}/.git`);
    expect(plan.anchors).not.toContain(`${cwd}/.git`);
    expect(plan.placeholders.map((p) => p.path).filter((path) => path.includes(".git"))).toEqual(
      [],
    );
  });

  it("binds any file standing where a directory would be, and nothing below it", () => {
    const plan = planProtection(cwd, [".claude/commands/"], host({ ".claude": "file" }));
    expect(plan).toEqual({ placeholders: [], anchors: [], readOnly: [`${cwd}/.claude`] });
  });

  it("refuses a symlink on the way, which a bind would follow out of the working directory", () => {
    for (const links of [{ ".vscode": "symlink" }, { ".claude": "symlink" }] as const) {
      const plan = () => planProtection(cwd, DEFAULTS, host(links));
      expect(plan).toThrow(JailSetupError);
    }
    expect(() => planProtection(cwd, [".vscode/"], host({ ".vscode": "symlink" }))).toThrow(
      "protected path .vscode/: /work/project/.vscode is a symbolic link, which jailed will not follow",
    );
  });

  it("does not anchor what is itself bound read-only", () => {
    const plan = planProtection(cwd, [".claude/", ".claude/commands/"], host({ ".claude": "dir" }));
    expect(plan.anchors).toEqual([]);
    expect(plan.readOnly).toEqual([`${cwd}/.claude`, `${cwd}/.claude/commands`]);
  });
});

describe("placeholderContent", () => {
  it("is empty, {} for JSON, and . for .git/commondir only", () => {
    expect(placeholderContent("/p/.envrc")).toBe("");
    expect(placeholderContent("/p/.mcp.json")).toBe("{}\n");
    expect(placeholderContent("/p/.git/commondir")).toBe(".\n");
    expect(placeholderContent("/p/commondir")).toBe("");
  });
});

describe("excludeWithPlaceholders", () => {
  const placeholders = [
    { path: `${cwd}/.git/commondir`, kind: "file" as const, content: ".\n" },
    { path: `${cwd}/.vscode`, kind: "dir" as const, content: "" },
    { path: `${cwd}/.envrc`, kind: "file" as const, content: "" },
    { path: `${cwd}/we*ird[1].json`, kind: "file" as const, content: "{}\n" },
  ];

  it("adds the work tree's placeholder files, anchored and escaped, to what is there", () => {
    expect(excludeWithPlaceholders("# git ls-files --others\n*.o", cwd, placeholders)).toBe(
      "# git ls-files --others\n*.o\n# jailed: placeholders for protected paths, during this run only\n/.envrc\n/we\\*ird\\[1].json\n",
    );
  });

  it("is null when no placeholder file is in the work tree", () => {
    expect(excludeWithPlaceholders("", cwd, placeholders.slice(0, 2))).toBeNull();
  });
});
