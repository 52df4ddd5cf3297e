import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JailSetupError } from "../../../src/runtime/errors.js";
import { spawnChild } from "../../../src/runtime/linux/spawn.js";

// Real processes: the module is the runtime's only way to start one, and talks to node's binding.
const dir = mkdtempSync(join(tmpdir(), "jailed-spawn-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string, fds: Parameters<typeof spawnChild>[1]) {
  return spawnChild(["/bin/sh", "-c", script], fds);
}

describe("spawnChild", () => {
  it("keeps the exit code", async () => {
    const child = sh("exit 7", ["ignore", "ignore", "ignore"]);
    expect(child.pid).toBeGreaterThan(0);
    expect(await child.exited).toEqual({ code: 7, signal: null });
  });

  it("reports a signal that ended the child, and signals only a running child", async () => {
    const child = sh("sleep 30", ["ignore", "ignore", "ignore"]);
    child.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: null, signal: "SIGTERM" });
    // Its pid may belong to another process now: nothing is sent.
    expect(() => child.kill("SIGKILL")).not.toThrow();
  });

  it("gives the child an empty environment and our fds at the numbers asked", async () => {
    const input = join(dir, "input");
    const output = join(dir, "output");
    writeFileSync(input, "from fd 3\n");
    const inputFd = openSync(input, "r");
    const outputFd = openSync(output, "w");
    const fd1 = "$(readlink /proc/$$/fd/1)";
    const child = sh(`read -r line <&3; echo "$line|$(env | wc -l)|${fd1}" >&5`, [
      "ignore",
      "ignore",
      "inherit",
      inputFd,
      "ignore",
      outputFd,
    ]);
    closeSync(inputFd);
    closeSync(outputFd);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    // sh itself sets PWD, SHLVL and `_`; an ignored stdio fd reads and writes nothing.
    const [line, envCount, ignored] = readFileSync(output, "utf8").trim().split("|");
    expect(line).toBe("from fd 3");
    expect(Number(envCount)).toBeLessThanOrEqual(3);
    expect(ignored).toBe("/dev/null");
  });

  it("writes words down a channel, whose close the child sees as the end", async () => {
    const output = join(dir, "channel");
    const outputFd = openSync(output, "w");
    const child = sh("cat <&3 >&4", ["ignore", "ignore", "inherit", "channel", outputFd]);
    closeSync(outputFd);
    const channel = child.channels.get(3);
    if (channel === undefined) throw new Error("no channel at fd 3");
    expect(channel.write("ok\n")).toBe(true);
    expect(channel.closed).toBe(false);
    channel.close();
    expect(channel.closed).toBe(true);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(readFileSync(output, "utf8")).toBe("ok\n");
  });

  it("says false, not EPIPE, when the child closed its end of a channel", async () => {
    const child = sh("exec 3<&-; sleep 30", ["ignore", "ignore", "inherit", "channel"]);
    const channel = child.channels.get(3);
    if (channel === undefined) throw new Error("no channel at fd 3");
    // The child closes its end soon after its start.
    let written = true;
    for (let tries = 0; written && tries < 200; tries++) {
      written = channel.write("ok\n");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(written).toBe(false);
    child.kill("SIGKILL");
    expect(await child.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(channel.closed).toBe(true);
  });

  it("fails with a setup error naming the program and the cause when it cannot start", () => {
    const missing = join(dir, "no-such-program");
    const start = () => spawnChild([missing], ["ignore", "ignore", "ignore"]);
    expect(start).toThrow(JailSetupError);
    expect(start).toThrow(`cannot start ${missing}: ENOENT`);
    const notExecutable = join(dir, "not-executable");
    writeFileSync(notExecutable, "#!/bin/sh\n", { mode: 0o644 });
    expect(() => spawnChild([notExecutable], ["ignore"])).toThrow(
      `cannot start ${notExecutable}: EACCES`,
    );
  });
});
