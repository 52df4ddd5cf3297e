import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BRIDGE_PORT,
  bridgeArgs,
  PROXY_READY_FD,
  PROXY_READY_STEP,
  proxyEnv,
  proxySteps,
} from "../../../src/runtime/linux/bridge.js";
import { jailEntry } from "../../../src/runtime/linux/entry.js";

describe("the proxy steps", () => {
  const [start, ready, listening] = proxySteps("/nix/store/s-socat/bin/socat", "/run/p.sock");

  it("start socat from 127.0.0.1:3128 to the proxy's socket in the background, 1 MB a read", () => {
    expect(start).toBe(
      `'/nix/store/s-socat/bin/socat' '-lf' '/dev/null' '-b' '1048576' 'TCP-LISTEN:${BRIDGE_PORT},bind=127.0.0.1,fork,reuseaddr' 'UNIX-CONNECT:/run/p.sock' & bridge=$!`,
    );
  });

  it("wait for the runtime's ok after socat has started, so that its start overlaps the proxy's", () => {
    expect(ready).toBe(PROXY_READY_STEP);
  });

  it("then wait for the bridge to listen, and the agent is exec'd outside the loop that reads /proc/net/sockstat", () => {
    const script = jailEntry("/sh", [start, ready, listening] as string[], ["/agent"])[2] as string;
    // The agent must keep the caller's stdin, not the loop's </proc/net/sockstat.
    expect(script.trimEnd().split("\n").at(-1)).toBe('exec "$@"');
    expect(script.indexOf('exec "$@"')).toBeGreaterThan(script.lastIndexOf("</proc/net/sockstat"));
  });

  /**
   * Runs a jail entry the way a jail does, for the part that matters here: in a network namespace of
   * its own (bwrap brings its loopback up), and a pid namespace that ends with bwrap, so the bridge
   * ends with the agent.
   */
  const inNewNetworkNamespace = (entry: string[]) =>
    spawnSync(
      "bwrap",
      [
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--dev-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--",
        ...entry,
      ],
      { encoding: "utf8" },
    );

  it("stops at once, with exit 2 and why, when the bridge exits without listening", () => {
    // /bin/false stands in for a socat that cannot start: the wait must not spin on for its 30 s.
    const [dead, , wait] = proxySteps("/bin/false", "/run/p.sock") as [string, string, string];
    const result = inNewNetworkNamespace(jailEntry("bash", [dead, wait], ["echo", "agent ran"]));
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("jailed: the bridge to the proxy did not start\n");
    expect(result.status).toBe(2);
  });

  it("starts the agent only once a socat slow to start listens", () => {
    // A socat that waits 300 ms before it starts: an agent started at once finds nothing on
    // 127.0.0.1:3128. The agent connects there with bash's /dev/tcp; the bridge accepts, and hangs
    // up when its unix side cannot connect.
    const dir = mkdtempSync(join(tmpdir(), "jailed-bridge-"));
    try {
      const slowSocat = join(dir, "socat");
      writeFileSync(slowSocat, '#!/bin/bash\nsleep 0.3\nexec socat "$@"\n', { mode: 0o755 });
      const [bridge, , wait] = proxySteps(slowSocat, join(dir, "absent.sock")) as [
        string,
        string,
        string,
      ];
      const agent = ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${BRIDGE_PORT} && echo connected`];
      // The control: without the wait, the agent is there first.
      const raced = inNewNetworkNamespace(jailEntry("bash", [bridge], agent));
      expect(raced.stdout).toBe("");
      expect(raced.stderr).toMatch(/Connection refused/);
      const waited = inNewNetworkNamespace(jailEntry("bash", [bridge, wait], agent));
      expect(waited.stderr).toBe("");
      expect(waited.stdout).toBe("connected\n");
      expect(waited.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hands the jail every spelling of the proxy variables, credential included", () => {
    const env = proxyEnv("tok");
    for (const name of [
      "HTTP_PROXY",
      "HTTPS_PROXY",
      "ALL_PROXY",
      "http_proxy",
      "https_proxy",
      "all_proxy",
    ]) {
      expect(env[name]).toBe("http://jailed:tok@127.0.0.1:3128");
    }
    expect(env.NO_PROXY).toBe("localhost,127.0.0.1,::1");
  });

  it("listen on another port when asked (the benchmarks run the bridge outside a jail)", () => {
    expect(bridgeArgs("/run/p.sock", 40000)).toContain(
      "TCP-LISTEN:40000,bind=127.0.0.1,fork,reuseaddr",
    );
  });
});

describe("the proxy's ready step", () => {
  /** The jail's first process on this machine's bash, with `word` (or nothing) on the ready fd. */
  function runWith(word: string | null) {
    const dir = mkdtempSync(join(tmpdir(), "jailed-ready-"));
    const file = join(dir, "ready");
    writeFileSync(file, word ?? "");
    const fd = openSync(file, "r");
    try {
      const [command, ...args] = jailEntry(
        "bash",
        [PROXY_READY_STEP],
        [
          "bash",
          "-c",
          `echo agent ran; if [[ -e /proc/self/fd/${PROXY_READY_FD} ]]; then echo fd still open; fi`,
        ],
      ) as [string, ...string[]];
      const stdio = ["ignore", "pipe", "pipe", ...Array(PROXY_READY_FD - 3).fill("ignore"), fd];
      return spawnSync(command, args, { encoding: "utf8", stdio });
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  }

  it("starts the agent on the runtime's ok, with the fd closed", () => {
    const result = runWith("ok\n");
    expect(result.stdout).toBe("agent ran\n");
    expect(result.status).toBe(0);
  });

  it("does not start the agent when the runtime closes the fd without a word, and leaves the why to it", () => {
    const result = runWith(null);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(2);
  });
});
