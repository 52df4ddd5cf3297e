import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { protectPaths } from "../../../src/runtime/linux/protect.js";
import { type HostFacts, planJail } from "../../../src/runtime/plan.js";
import { sampleJailConfig } from "../../support/jail-config.js";

let root: string;
let cwd: string;
let runDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "jailed-protect-"));
  cwd = join(root, "project");
  runDir = join(root, "run");
  mkdirSync(cwd);
  mkdirSync(runDir);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function protect(protectedPaths: string[]) {
  const host: HostFacts = {
    user: { name: "u", uid: 1000, gid: 1000, home: join(root, "home") },
    cwd,
    env: {},
  };
  return protectPaths(planJail(sampleJailConfig({ protectedPaths }), host, [], {}), runDir);
}

const ENTRIES = [".git/config", ".git/commondir", ".git/hooks/", ".envrc", ".mcp.json", ".vscode/"];

describe("protectPaths", () => {
  it("makes placeholders for missing paths, binds them, and removes them when released", () => {
    mkdirSync(join(cwd, ".git", "info"), { recursive: true });
    writeFileSync(join(cwd, ".git", "config"), "[core]\n");
    writeFileSync(join(cwd, ".git", "info", "exclude"), "*.o\n");
    const before = readdirSync(cwd).sort();
    const protection = protect(ENTRIES);
    expect(readFileSync(join(cwd, ".git", "commondir"), "utf8")).toBe(".\n");
    expect(readFileSync(join(cwd, ".mcp.json"), "utf8")).toBe("{}\n");
    expect(existsSync(join(cwd, ".vscode"))).toBe(true);
    const exclude = join(runDir, "git-exclude");
    expect(protection.binds).toEqual([
      { source: join(cwd, ".git"), dest: join(cwd, ".git"), readOnly: false },
      ...[".envrc", ".mcp.json", ".vscode", ".git/commondir", ".git/config", ".git/hooks"].map(
        (path) => ({ source: join(cwd, path), dest: join(cwd, path), readOnly: true }),
      ),
      { source: exclude, dest: join(cwd, ".git", "info", "exclude"), readOnly: true },
    ]);
    expect(readFileSync(exclude, "utf8")).toContain("*.o\n# jailed:");
    protection.release();
    expect(readdirSync(cwd).sort()).toEqual(before);
    expect(readdirSync(join(cwd, ".git")).sort()).toEqual(["config", "info"]);
    expect(readFileSync(join(cwd, ".git", "info", "exclude"), "utf8")).toBe("*.o\n");
  });

  it("keeps a placeholder something on the host wrote to during the run", () => {
    const protection = protect([".envrc", ".vscode/"]);
    writeFileSync(join(cwd, ".envrc"), "use nix\n");
    writeFileSync(join(cwd, ".vscode", "settings.json"), "{}");
    protection.release();
    expect(readFileSync(join(cwd, ".envrc"), "utf8")).toBe("use nix\n");
    expect(readdirSync(join(cwd, ".vscode"))).toEqual(["settings.json"]);
  });

  it("leaves what existed before alone, and creates no .git", () => {
    writeFileSync(join(cwd, ".envrc"), "use flake\n");
    const protection = protect(ENTRIES);
    expect(protection.binds.map((bind) => bind.dest)).toEqual(
      [".envrc", ".mcp.json", ".vscode"].map((path) => join(cwd, path)),
    );
    protection.release();
    expect(readdirSync(cwd)).toEqual([".envrc"]);
  });

  it("refuses a symlink without creating anything", () => {
    symlinkSync("/etc", join(cwd, ".vscode"));
    expect(() => protect([".envrc", ".vscode/"])).toThrow("is a symbolic link");
    expect(readdirSync(cwd)).toEqual([".vscode"]);
  });
});
