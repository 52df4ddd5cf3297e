import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { afterAll, describe, expect, it } from "vitest";
import {
  dummyFileContents,
  resolveRunCredentials,
  withDummies,
} from "../../../src/runtime/credentials.js";
import { JailSetupError } from "../../../src/runtime/errors.js";
import type { JailPlan } from "../../../src/runtime/plan.js";
import { type Credential, CredentialSchema } from "../../../src/spec/credential.js";
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
    const contents = dummyFileContents(oauthFile, [{ real: ACCESS, dummy: "sk-ant-oat01-DUMMY" }]);
    const parsed = JSON.parse(contents);
    expect(parsed.claudeAiOauth.accessToken).toBe("sk-ant-oat01-DUMMY");
    expect(parsed.claudeAiOauth.refreshToken).toMatch(/^sk-ant-ort01-/);
    expect(parsed.claudeAiOauth.refreshToken).toHaveLength(REFRESH.length);
    expect(contents).not.toContain(REFRESH);
    expect(parsed.claudeAiOauth.expiresAt).toBe(1);
    expect(parsed.other).toEqual({ plain: "kept" });
  });

  it("keeps token_type, which clients send as is, and dummies an ID token", () => {
    const google = JSON.stringify({
      access_token: "ya29.access0123",
      id_token: "idtoken0123",
      token_type: "Bearer",
      expiry_date: 1,
    });
    const copy = JSON.parse(dummyFileContents(google, [{ real: "ya29.access0123", dummy: "D" }]));
    expect(copy.token_type).toBe("Bearer");
    expect(copy.access_token).toBe("D");
    expect(copy.id_token).not.toBe("idtoken0123");
  });

  it("replaces the token in a file that is not JSON", () => {
    expect(dummyFileContents(`token=${ACCESS}\n`, [{ real: ACCESS, dummy: "D" }])).toBe(
      "token=D\n",
    );
  });

  it("puts a login's known refresh dummy in place of its refresh token", () => {
    const contents = dummyFileContents(oauthFile, [
      { real: ACCESS, dummy: "A" },
      { real: REFRESH, dummy: "R" },
    ]);
    expect(JSON.parse(contents).claudeAiOauth).toMatchObject({
      accessToken: "A",
      refreshToken: "R",
    });
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
    // Without `oauth`, the refresh token's dummy maps nowhere and the copy is read-only.
    expect(oauth?.oauth).toBeUndefined();
    expect(run.files[0]?.writable).toBe(false);
  });

  it("resolves an OAuth login: its refresh token's pair and where to save refreshed tokens", async () => {
    writeFileSync(join(home, "login.json"), oauthFile);
    const run = await resolveRunCredentials(
      configWith({
        login: credential({
          source: { type: "file", path: "~/login.json", pointer: "/claudeAiOauth/accessToken" },
          sandboxFile: "~/login.json",
          oauth: {
            refreshPointer: "/claudeAiOauth/refreshToken",
            expiresAtPointer: "/claudeAiOauth/expiresAt",
            tokenUrls: ["https://platform.claude.com/v1/oauth/token"],
          },
        }),
      }),
      home,
      {},
    );
    const oauth = run.resolved[0]?.oauth;
    expect(oauth).toEqual({
      file: join(home, "login.json"),
      accessPointer: "/claudeAiOauth/accessToken",
      refreshPointer: "/claudeAiOauth/refreshToken",
      expiresAtPointer: "/claudeAiOauth/expiresAt",
      tokenUrls: ["https://platform.claude.com/v1/oauth/token"],
      refresh: { real: REFRESH, dummy: expect.stringMatching(/^sk-ant-ort01-/) },
    });
    const copy = JSON.parse(run.files[0]?.contents ?? "").claudeAiOauth;
    expect(copy.refreshToken).toBe(oauth?.refresh.dummy);
    expect(copy.accessToken).toBe(run.resolved[0]?.dummy);
    expect(run.files[0]?.writable).toBe(true);
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

describe("CredentialSchema's oauth", () => {
  const oauth = {
    refreshPointer: "/refresh_token",
    expiresAtPointer: null,
    tokenUrls: ["https://oauth2.googleapis.com/token"],
  };
  const fileSource = { type: "file", path: "~/login.json", pointer: "/access_token" } as const;

  it("takes a login in a file source with a pointer to the access token", () => {
    expect(v.safeParse(CredentialSchema, credential({ source: fileSource, oauth })).success).toBe(
      true,
    );
  });

  it.each([
    ["an env source", { oauth }, "oauth needs a file source with a pointer to the access token"],
    [
      "a whole-file source",
      { source: { ...fileSource, pointer: null }, oauth },
      "oauth needs a file source with a pointer to the access token",
    ],
    [
      "a token URL that is not https://host/path",
      {
        source: fileSource,
        oauth: { ...oauth, tokenUrls: ["http://oauth2.googleapis.com/token"] },
      },
      "must be https://host/path",
    ],
    [
      "a refresh pointer that is not one",
      { source: fileSource, oauth: { ...oauth, refreshPointer: "refresh_token" } },
      "must be a JSON pointer (start with /)",
    ],
  ])("refuses %s", (_, overrides, message) => {
    const result = v.safeParse(CredentialSchema, credential(overrides as Partial<Credential>));
    expect(result.issues?.map((issue) => issue.message)).toEqual([message]);
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
