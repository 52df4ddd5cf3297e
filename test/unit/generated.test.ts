import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const tsx = join(root, "node_modules", ".bin", "tsx");

function check(script: string): string {
  try {
    execFileSync(tsx, [script, "--check"], { cwd: root, encoding: "utf8", stdio: "pipe" });
    return "fresh";
  } catch (error) {
    return String((error as { stderr?: string }).stderr);
  }
}

// The generated files are committed so Nix needs no npm; a stale one would ship old behaviour.
describe("generated files are fresh", () => {
  it("nix/agents/*.nix and the README's agent table match agents/*.ts", () => {
    expect(check("src/generator/main.ts")).toBe("fresh");
  });

  it("the runtime bundle in nix/runtime matches src/", () => {
    expect(check("scripts/bundle.ts")).toBe("fresh");
  });
});
