import { describe, expect, it } from "vitest";
import { BRIDGE_PORT, bridgeStep, proxyEnv } from "../../../src/runtime/linux/bridge.js";
import { jailEntry } from "../../../src/runtime/linux/entry.js";

describe("the bridge step", () => {
  const step = bridgeStep("/nix/store/s-socat/bin/socat", "/run/p.sock");

  it("starts socat from 127.0.0.1:3128 to the proxy's socket in the background", () => {
    expect(step.split("\n")[0]).toBe(
      `'/nix/store/s-socat/bin/socat' -lf /dev/null TCP-LISTEN:${BRIDGE_PORT},bind=127.0.0.1,fork,reuseaddr 'UNIX-CONNECT:/run/p.sock' &`,
    );
  });

  it("waits for 127.0.0.1:3128 to listen, and the agent is exec'd outside the loop that reads /proc/net/tcp", () => {
    expect(step).toContain("0100007F:0C38");
    const script = jailEntry("/sh", [step], ["/agent"])[2] as string;
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
