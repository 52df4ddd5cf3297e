import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/nix.js";

const nixFiles = [
  ...readdirSync(join(repoRoot, "nix", "agents")).map((name) => join("nix", "agents", name)),
  "nix/lib.nix",
  "nix/overlays.nix",
  "nix/cli.nix",
  "flake.nix",
];

describe("every Nix file parses", () => {
  it.each(nixFiles)("%s", (file) => {
    const parsed = execFileSync("nix-instantiate", ["--parse", file], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(parsed.length).toBeGreaterThan(0);
  });

  it("includes every generated agent file", () => {
    expect(nixFiles.filter((file) => file.startsWith("nix/agents/")).length).toBe(7);
  });
});
