import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSandbox, RUNNERS, runAs, type Sandbox } from "../support/jail-run.js";
import { nixBuild, repoRoot, withJailedLib } from "../support/nix.js";

/**
 * What a run says when bubblewrap is not there or cannot make the jail: the runtime, with the
 * JailConfig of a built wrapper whose bwrap is swapped for a missing path or a program that fails
 * before making a jail, as a broken install or a refused namespace would.
 */
let config: Record<string, unknown> & { tools: Record<string, string> };

beforeAll(() => {
  const wrapper = nixBuild(
    withJailedLib(`(jailedLib.makeJailedAgent {
      name = "jailed-setup-test";
      pkg = pkgs.bash;
      command = "bash";
      network = "none";
    }).configFile`),
  );
  config = JSON.parse(readFileSync(wrapper, "utf8"));
});

describe.each(RUNNERS)("a run whose bubblewrap cannot work, as $label", (runner) => {
  let sandbox: Sandbox;
  const runWith = (bwrap: string) => {
    const configFile = join(sandbox.root, "jail.json");
    writeFileSync(configFile, JSON.stringify({ ...config, tools: { ...config.tools, bwrap } }), {
      mode: 0o644,
    });
    const main = `require(${JSON.stringify(join(repoRoot, "nix", "runtime", "jailed.cjs"))}).main(["--config", ${JSON.stringify(configFile)}, "--", "-c", "echo the agent ran"])`;
    return runAs(runner, sandbox, [process.execPath, "-e", main]);
  };

  beforeAll(() => {
    sandbox = makeSandbox(runner);
  });
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  it("control: the same config with its own bwrap runs the agent", () => {
    const result = runWith(config.tools.bwrap as string);
    expect(result.stdout).toBe("the agent ran\n");
    expect(result.status).toBe(0);
  });

  it.each([
    {
      when: "bwrap is missing",
      bwrap: "/nix/store/00000000000000000000000000000000-bubblewrap/bin/bwrap",
      message:
        "bubblewrap is missing: /nix/store/00000000000000000000000000000000-bubblewrap/bin/bwrap is not an executable; rebuild the wrapper (its Nix closure provides bwrap)",
    },
    {
      when: "bwrap exits before making the jail",
      bwrap: "/bin/false",
      message:
        "bubblewrap could not set up the jail (its own message is above); check that user namespaces are allowed for this user",
    },
  ])("stops with exit 2 and says what to do when $when", ({ bwrap, message }) => {
    const result = runWith(bwrap);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`jailed: ${message}\n`);
    expect(result.status).toBe(2);
  });
});
