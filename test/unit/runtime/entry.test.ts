import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { jailEntry, shellWord } from "../../../src/runtime/linux/entry.js";

/** Runs argv as the jail would (here, on this machine's bash). */
function run(argv: readonly string[]): { stdout: string; stderr: string; status: number | null } {
  const [command, ...args] = argv as [string, ...string[]];
  return spawnSync(command, args, { encoding: "utf8" });
}

describe("shellWord", () => {
  it("reads back as exactly the value in bash, whatever it holds", () => {
    for (const value of [
      "plain",
      "a b",
      "it's",
      "'",
      "''",
      '$(touch x) `id` "$HOME" \\ * ?',
      "\n",
    ]) {
      expect(run(["bash", "-c", `printf %s ${shellWord(value)}`]).stdout, value).toBe(value);
    }
  });
});

describe("jailEntry", () => {
  it("runs the steps in order in one shell, then execs the agent with its argv untouched and the same pid", () => {
    const argv = jailEntry(
      "bash",
      ["echo one $$", "echo two $$"],
      ["bash", "-c", 'echo "$1" $$', "-", "a b"],
    );
    expect(argv.slice(0, 2)).toEqual(["bash", "-c"]);
    expect(argv.slice(3)).toEqual(["jailed", "bash", "-c", 'echo "$1" $$', "-", "a b"]);
    const [one, two, agent] = run(argv).stdout.trim().split("\n");
    const pid = one?.split(" ")[1];
    expect([one, two, agent]).toEqual([`one ${pid}`, `two ${pid}`, `a b ${pid}`]);
  });

  it("does not start the agent when a step exits", () => {
    const result = run(jailEntry("bash", ["exit 2"], ["echo", "agent ran"]));
    expect(result.stdout).toBe("");
    expect(result.status).toBe(2);
  });
});
