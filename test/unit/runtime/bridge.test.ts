import { describe, expect, it } from "vitest";
import { BRIDGE_PORT, proxyEnv, withBridge } from "../../../src/runtime/linux/bridge.js";

describe("the bridge launcher", () => {
  const argv = withBridge(
    ["/nix/store/a-agent/bin/agent", "-p", "hi"],
    { sh: "/sh", socat: "/socat" },
    "/run/p.sock",
  );

  it("runs socat as $0 of a bash script and passes the agent's argv through untouched", () => {
    expect(argv.slice(0, 2)).toEqual(["/sh", "-c"]);
    expect(argv.slice(3)).toEqual(["/socat", "/nix/store/a-agent/bin/agent", "-p", "hi"]);
    expect(argv[2]).toContain(
      `TCP-LISTEN:${BRIDGE_PORT},bind=127.0.0.1,fork,reuseaddr 'UNIX-CONNECT:/run/p.sock'`,
    );
  });

  it("waits for 127.0.0.1:3128 to listen, then execs the agent outside the loop that reads /proc/net/tcp", () => {
    const script = argv[2] as string;
    expect(script).toContain("0100007F:0C38");
    // The agent must keep the caller's stdin, not the loop's </proc/net/tcp.
    expect(script.trimEnd().split("\n").at(-1)).toBe('exec "$@"');
    expect(script.indexOf('exec "$@"')).toBeGreaterThan(script.lastIndexOf("</proc/net/tcp"));
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
});
