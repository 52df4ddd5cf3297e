import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  dummyFileContents,
  resolveRunCredentials,
  withDummies,
} from "../../../src/runtime/credentials.js";
import { JailSetupError } from "../../../src/runtime/errors.js";
import type { JailPlan } from "../../../src/runtime/plan.js";
import type { Credential } from "../../../src/spec/credential.js";
import type { JailConfig } from "../../../src/spec/jail-config.js";

const ACCESS = "sk-ant-oat01-accessACCESSaccess0123456789";
const REFRESH = "sk-ant-ort01-refreshREFRESHrefresh0123456";
const home = mkdtempSync(join(tmpdir(), "jailed-credentials-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const oauthFile = JSON.stringify({
  claudeAiOauth: { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: 1, scopes: ["a"] },
  other: { plain: "kept" },
});

function credential(overrides: Partial<Credential>): Credential {
  return {
    hosts: ["api.anthropic.com"],
    header: "authorization",
    format: "Bearer {token}",
    source: { type: "env", name: "UNSET_FOR_TEST" },
    sandboxEnv: null,
    sandboxFile: null,
    ...overrides,
  };
}

const configWith = (credentials: Record<string, Credential>) =>
  ({ credentials }) as unknown as JailConfig;

describe("dummyFileContents", () => {
  it("puts the dummy in place of the real token and a dummy in place of every other secret", () => {
    const contents = dummyFileContents(oauthFile, ACCESS, "sk-ant-oat01-DUMMY");
    const parsed = JSON.parse(contents);
    expect(parsed.claudeAiOauth.accessToken).toBe("sk-ant-oat01-DUMMY");
    expect(parsed.claudeAiOauth.refreshToken).toMatch(/^sk-ant-ort01-/);
    expect(parsed.claudeAiOauth.refreshToken).toHaveLength(REFRESH.length);
    expect(contents).not.toContain(REFRESH);
    expect(parsed.claudeAiOauth.expiresAt).toBe(1);
    expect(parsed.other).toEqual({ plain: "kept" });
  });

  it("replaces the token in a file that is not JSON", () => {
    expect(dummyFileContents(`token=${ACCESS}\n`, ACCESS, "D")).toBe("token=D\n");
  });
});

describe("resolveRunCredentials", () => {
  it("makes dummies for the env and for the file, and skips a credential not set up", async () => {
    writeFileSync(join(home, "oauth.json"), oauthFile);
    const run = await resolveRunCredentials(
      configWith({
        missing: credential({ sandboxEnv: "MISSING" }),
        key: credential({ source: { type: "env", name: "KEY" }, sandboxEnv: "API_KEY" }),
        oauth: credential({
          source: { type: "file", path: "~/oauth.json", pointer: "/claudeAiOauth/accessToken" },
          sandboxFile: "~/oauth.json",
        }),
      }),
      home,
      { KEY: "sk-proj-realKEY0123456789" },
    );
    expect(run.resolved.map(({ name, real }) => [name, real])).toEqual([
      ["key", "sk-proj-realKEY0123456789"],
      ["oauth", ACCESS],
    ]);
    const [key, oauth] = run.resolved;
    expect(run.env).toEqual({ API_KEY: key?.dummy });
    expect(run.files).toHaveLength(1);
    expect(run.files[0]?.path).toBe(join(home, "oauth.json"));
    expect(JSON.parse(run.files[0]?.contents ?? "").claudeAiOauth.accessToken).toBe(oauth?.dummy);
  });

  it("stops on a failing command, naming the credential and not its output", async () => {
    const failing = resolveRunCredentials(
      configWith({
        vault: credential({
          source: { type: "command", argv: ["/bin/sh", "-c", `echo ${ACCESS}; exit 1`] },
        }),
      }),
      home,
      {},
    );
    await expect(failing).rejects.toThrow(JailSetupError);
    await expect(failing).rejects.toThrow(
      /^credential vault: command "\/bin\/sh" exited with status 1$/,
    );
  });

  it("stops on a credentials file that is not JSON", async () => {
    writeFileSync(join(home, "broken.json"), `{"k": "${ACCESS}"`);
    const failing = resolveRunCredentials(
      configWith({
        broken: credential({
          source: { type: "file", path: `${home}/broken.json`, pointer: "/k" },
        }),
      }),
      home,
      {},
    );
    await expect(failing).rejects.toThrow("credential broken: the file is not valid JSON");
  });
});

describe("withDummies", () => {
  it("replaces a real value forwarded into the env or passed in argv", () => {
    const plan = {
      argv: ["agent", `--key=${ACCESS}`],
      env: { FORWARDED: ACCESS, OTHER: "x" },
    } as unknown as JailPlan;
    const out = withDummies(plan, {
      resolved: [{ name: "a", hosts: [], real: ACCESS, dummy: "DUMMY" }],
      env: {},
      files: [],
    });
    expect(out.argv).toEqual(["agent", "--key=DUMMY"]);
    expect(out.env).toEqual({ FORWARDED: "DUMMY", OTHER: "x" });
  });
});
