import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJailConfig } from "../../src/runtime/config.js";
import {
  buildFlakeOutput,
  configFileOf,
  evalFlakeJson,
  nixBuild,
  withJailedLib,
} from "../support/nix.js";

const system = "x86_64-linux";

describe("the flake, built offline against test/hostpkgs", () => {
  let project: string;
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), "jailed-flake-"));
    mkdirSync(join(project, "work"));
    mkdirSync(join(project, "home"));
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("builds jailed-codex, which prints the real Codex version from inside the jail", () => {
    const out = buildFlakeOutput("jailed-codex");
    const bareCodex = nixBuild(withJailedLib("pkgs.codex"));
    const bare = execFileSync(join(bareCodex, "bin", "codex"), ["--version"], { encoding: "utf8" });
    expect(bare).toMatch(/^codex-cli 0\.169\.0\n$/);
    const jailed = execFileSync(join(out, "bin", "jailed-codex"), ["--version"], {
      cwd: join(project, "work"),
      encoding: "utf8",
      env: { HOME: join(project, "home"), PATH: "/usr/bin:/bin" },
    });
    expect(jailed).toBe(bare);
  });

  it("writes a JailConfig that the runtime's schema accepts", () => {
    for (const name of ["jailed-codex", "jailed-claude", "jailed-gemini"]) {
      const out = buildFlakeOutput(name);
      const file = configFileOf(join(out, "bin", name));
      const config = parseJailConfig(JSON.parse(readFileSync(file, "utf8")), file);
      expect(config.name).toBe(name);
      expect(config.network.mode).toBe("proxy");
    }
  });

  it("offers the CLI and a jailed package, an app and a check for every agent the package set has", () => {
    const packages = evalFlakeJson(`packages.${system}`, "builtins.attrNames") as string[];
    expect(packages.sort()).toEqual([
      "default",
      "jailed",
      "jailed-claude",
      "jailed-codex",
      "jailed-gemini",
    ]);
    expect(evalFlakeJson(`apps.${system}.jailed-codex`)).toEqual({
      type: "app",
      program: expect.stringMatching(/^\/nix\/store\/[^/]+-jailed-codex\/bin\/jailed-codex$/),
    });
    expect(evalFlakeJson(`checks.${system}`, "builtins.attrNames")).toEqual(
      expect.arrayContaining(["jailed-codex"]),
    );
  });

  it("has outputs for the four usual systems", () => {
    const systems = ["aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"];
    for (const output of ["lib", "packages", "apps", "devShells", "checks"]) {
      expect((evalFlakeJson(output, "builtins.attrNames") as string[]).sort()).toEqual(systems);
    }
  });

  it("exposes makeJailedAgent and one makeJailed<Agent> per spec in lib", () => {
    const names = evalFlakeJson(`lib.${system}`, "builtins.attrNames") as string[];
    expect(names).toEqual(
      expect.arrayContaining([
        "makeJailedAgent",
        "makeJailedClaudeCode",
        "makeJailedCodex",
        "makeJailedGeminiCli",
        "makeJailedOpencode",
        "makeJailedCrush",
        "makeJailedGoose",
      ]),
    );
  });

  it("allows the unfree agent it wraps (Claude Code) by predicate", () => {
    // hostpkgs refuses claude-code without the predicate (test/nix/hostpkgs.test.ts shows it).
    const drv = evalFlakeJson(`packages.${system}.jailed-claude.drvPath`);
    expect(drv).toMatch(/jailed-claude\.drv$/);
  });

  it("adds makeJailedAgent and the jailed agents to a package set through overlays.default", () => {
    const flake = join(import.meta.dirname, "..", "..");
    const names = JSON.parse(
      execFileSync(
        "nix-instantiate",
        [
          "--eval",
          "--strict",
          "--json",
          "-E",
          `let pkgs = import ${flake}/test/hostpkgs { overlays = [ (import ${flake}/nix/overlays.nix) ]; config.allowUnfree = true; }; in [ (builtins.isFunction pkgs.makeJailedAgent) pkgs.jailed-codex.name pkgs.jailed-claude.meta.mainProgram ]`,
        ],
        { encoding: "utf8" },
      ),
    );
    expect(names).toEqual([true, "jailed-codex", "jailed-claude"]);
  });
});
