import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSandbox, RUNNERS, runAs, type Sandbox, spawnAs } from "../support/jail-run.js";
import { closureOf, nixBuild, withJailedLib } from "../support/nix.js";

/** A jailed bash: the smallest agent that lets the tests look around inside. */
const shellExpr = withJailedLib(`jailedLib.makeJailedAgent {
  name = "jailed-test-shell";
  pkg = pkgs.bash;
  command = "bash";
  network = "none";
  configPaths = [ "~/.jailtest" "~/.jailtest.json" ];
}`);

let wrapper: string;
let closure: string[];
let hostServer: Server;
let hostPort: number;

beforeAll(async () => {
  const out = nixBuild(shellExpr);
  wrapper = join(out, "bin", "jailed-test-shell");
  const roots = nixBuild(withJailedLib("[ pkgs.bash pkgs.coreutils pkgs.cacert ]")).split("\n");
  closure = closureOf(roots);
  hostServer = createServer((socket) => socket.end("hello from the host\n"));
  await new Promise<void>((resolve) => hostServer.listen(0, "127.0.0.1", resolve));
  hostPort = (hostServer.address() as { port: number }).port;
});

afterAll(() => {
  hostServer?.close();
});

describe.each(RUNNERS)("a jailed shell run as $label", (runner) => {
  let sandbox: Sandbox;
  const sh = (script: string, env: Record<string, string> = {}) =>
    runAs(runner, sandbox, [wrapper, "-c", script], env);

  beforeAll(() => {
    sandbox = makeSandbox(runner);
  });
  afterAll(() => {
    rmSync(sandbox.root, { recursive: true, force: true });
  });

  it("passes stdout and the exit code through", () => {
    const result = sh("echo out; echo err >&2; exit 42");
    expect(result.stdout).toBe("out\n");
    expect(result.stderr).toBe("err\n");
    expect(result.status).toBe(42);
  });

  it("holds exactly the closure of its roots in /nix/store", () => {
    const result = sh("ls -1 /nix/store");
    expect(result.status).toBe(0);
    const listed = result.stdout
      .trim()
      .split("\n")
      .map((name) => `/nix/store/${name}`)
      .sort();
    expect(listed).toEqual(closure);
    // Control: the host's store has more than the closure.
    expect(readdirSync("/nix/store").length).toBeGreaterThan(closure.length);
  });

  it("hides the host's secrets and other home files", () => {
    // Control: they exist on the host.
    for (const path of [".ssh/id_ed25519", ".aws/credentials", "notes.txt"]) {
      expect(existsSync(join(sandbox.home, path))).toBe(true);
    }
    expect(existsSync("/etc/shadow")).toBe(true);
    const result = sh(
      'for p in ~/.ssh ~/.aws ~/notes.txt /etc/shadow /root /home /var /usr/lib /usr/share; do [ -e "$p" ] && echo "visible: $p"; done; ls -A ~ /usr/bin',
    );
    expect(result.stdout.split("\n").filter((line) => line.startsWith("visible"))).toEqual([]);
    expect(result.stdout).toContain(`.jailtest\n.jailtest.json\n\n/usr/bin:\nenv\n`);
  });

  it("sees the synthesised /etc naming only the running user", () => {
    const result = sh("cat /etc/passwd; id -un; ls /etc");
    const user = runner.uid === null ? "root" : "nobody";
    expect(result.stdout).toContain(`${user}:x:${runner.uid ?? 0}:`);
    expect(result.stdout.split("\n")).toContain(user);
    expect(result.stdout).not.toContain("postgres");
  });

  it("sees an /etc of the run's files only: the trust bundle under both names, the host's zone", () => {
    const result = sh(`
      ls -A /etc
      readlink /etc/ssl/certs/ca-bundle.crt
      md5sum < /etc/ssl/certs/ca-certificates.crt
      od -An -tx1 /etc/localtime 2>/dev/null | tr -d ' \\n'`);
    const zone = existsSync("/etc/localtime") ? readFileSync("/etc/localtime") : null;
    const lines = result.stdout.split("\n");
    const names = lines.slice(0, zone === null ? 5 : 6);
    const [bundle, bundleSum, zoneHex] = lines.slice(names.length);
    expect(names.sort()).toEqual(
      [
        "group",
        "hosts",
        "nsswitch.conf",
        "passwd",
        "ssl",
        ...(zone === null ? [] : ["localtime"]),
      ].sort(),
    );
    expect(closure).toContain(bundle?.split("/").slice(0, 4).join("/"));
    const hostSum = createHash("md5")
      .update(readFileSync(bundle as string))
      .digest("hex");
    expect(bundleSum).toBe(`${hostSum}  -`);
    expect(zoneHex).toBe(zone === null ? "" : zone.toString("hex"));
  });

  it("writes to cwd, the config paths and /tmp, and nowhere else", () => {
    const result = sh(`
      echo project > ./written && echo cwd-ok
      echo cfg > ~/.jailtest/written && echo config-ok
      echo '{}' > ~/.jailtest.json && echo config-file-ok
      echo tmp > /tmp/written && echo tmp-ok
      for p in /written /etc/written /nix/store/written /bin/written /usr/written; do
        ( echo x > "$p" ) 2>/dev/null && echo "wrote: $p"
      done
      true`);
    expect(result.stdout.trim().split("\n")).toEqual([
      "cwd-ok",
      "config-ok",
      "config-file-ok",
      "tmp-ok",
    ]);
    expect(readFileSync(join(sandbox.project, "written"), "utf8")).toBe("project\n");
    expect(readFileSync(join(sandbox.home, ".jailtest", "written"), "utf8")).toBe("cfg\n");
  });

  it("keeps writes to the throwaway home off the host", () => {
    const result = sh("echo x > ~/scratch && cat ~/scratch");
    expect(result.stdout).toBe("x\n");
    expect(existsSync(join(sandbox.home, "scratch"))).toBe(false);
  });

  it("has only lo and cannot reach a server on the host's loopback", async () => {
    const probe = `exec 3<>/dev/tcp/127.0.0.1/${hostPort} && head -1 <&3`;
    // Control: outside the jail the same probe reaches the server (async: the server runs here).
    const outside = spawn("bash", ["-c", probe]);
    const reply = await new Promise<string>((resolve) => {
      let text = "";
      outside.stdout.on("data", (chunk) => {
        text += chunk;
      });
      outside.once("close", () => resolve(text));
    });
    expect(reply).toBe("hello from the host\n");
    const result = sh(`tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ${probe}`);
    expect(result.stdout).toBe("lo\n");
    expect(result.stderr).toContain("Connection refused");
    expect(result.status).not.toBe(0);
  });

  it("ends the jail on SIGTERM and leaves no process and no run directory", async () => {
    const marker = String(400000 + Math.floor(Math.random() * 99999));
    const child = spawnAs(runner, sandbox, [wrapper, "-c", `sleep ${marker}; echo not-reached`]);
    const running = () =>
      spawnSync("pgrep", ["-f", `^sleep ${marker}`], { encoding: "utf8" }).stdout.trim();
    for (let i = 0; i < 100 && running() === ""; i++) await new Promise((r) => setTimeout(r, 50));
    expect(running()).not.toBe("");
    expect(readdirSync(join(sandbox.runtimeDir, "jailed")).length).toBe(1);
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.once("exit", (code, signal) => resolve([code, signal])),
    );
    // setpriv execs, so the child's pid is the runtime's own.
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(128 + 15);
    expect(running()).toBe("");
    expect(readdirSync(join(sandbox.runtimeDir, "jailed"))).toEqual([]);
  });

  it("kills a jail whose agent ignores SIGTERM after the grace period, leaving no process", async () => {
    const marker = String(500000 + Math.floor(Math.random() * 99999));
    const child = spawnAs(runner, sandbox, [
      wrapper,
      "-c",
      `trap '' TERM; sleep ${marker} & wait; sleep ${marker}`,
    ]);
    const running = () =>
      spawnSync("pgrep", ["-f", `^sleep ${marker}`], { encoding: "utf8" }).stdout.trim();
    for (let i = 0; i < 100 && running() === ""; i++) await new Promise((r) => setTimeout(r, 50));
    expect(running()).not.toBe("");
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.once("exit", (code, signal) => resolve([code, signal])),
    );
    const sent = Date.now();
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(Date.now() - sent).toBeGreaterThanOrEqual(2900);
    expect(code).toBe(128 + 9);
    expect(running()).toBe("");
    expect(readdirSync(join(sandbox.runtimeDir, "jailed"))).toEqual([]);
  });
});
