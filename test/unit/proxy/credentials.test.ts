import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline, Readable, type Transform } from "node:stream";
import { text } from "node:stream/consumers";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { jwtClaimsPart, knownPrefix, makeDummy } from "../../../src/proxy/credentials/dummy.js";
import { createCredentialSwap } from "../../../src/proxy/credentials/index.js";
import {
  injectCredentials,
  type ResolvedCredential,
} from "../../../src/proxy/credentials/inject.js";
import {
  isTokenEndpoint,
  loginTokensOf,
  refreshDummyIn,
  refreshedLoginFile,
  swapRefreshToken,
  tokenResponseOf,
} from "../../../src/proxy/credentials/oauth.js";
import {
  createScrubber,
  pendingTail,
  replacementsOf,
  scrubHeaders,
} from "../../../src/proxy/credentials/scrub.js";
import {
  atPointer,
  CredentialError,
  readCredentialSource,
  valueInFile,
} from "../../../src/proxy/credentials/source.js";

const REAL = "sk-ant-api03-REALsecretVALUE0123456789abcdefABCDEF-xyz_QQ";

function classes(token: string): string {
  return token.replace(/[a-z]/g, "a").replace(/[A-Z]/g, "A").replace(/[0-9]/g, "0");
}

describe("makeDummy", () => {
  it.each([
    ["sk-ant-api03-", `sk-ant-api03-${"aB3_-".repeat(19)}AA`],
    ["sk-ant-oat01-", "sk-ant-oat01-abcdefABCDEF0123456789"],
    ["sk-proj-", "sk-proj-Zx9aaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
    ["sk-", "sk-0123456789abcdefABCDEF"],
    ["ghp_", "ghp_0123456789abcdefABCDEFghijklmnopqr"],
    ["github_pat_", "github_pat_11AAAAAAA0_abcdefghijklmnop"],
    ["AIza", "AIzaSyA-0123456789abcdefABCDEFghijklmno"],
    ["", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"],
    ["", "0123456789abcdef0123456789abcdef"],
  ])("keeps prefix %j, length and punctuation of %s", (prefix, token) => {
    const dummy = makeDummy(token);
    expect(knownPrefix(token)).toBe(prefix);
    expect(dummy.startsWith(prefix)).toBe(true);
    expect(dummy).toHaveLength(token.length);
    expect(dummy).not.toBe(token);
    // Punctuation stays put; letters and digits only come from classes the token uses.
    expect(dummy.replace(/[A-Za-z0-9]/g, "x")).toBe(token.replace(/[A-Za-z0-9]/g, "x"));
    const used = new Set(classes(token.slice(prefix.length)));
    for (const c of classes(dummy.slice(prefix.length))) expect(used.has(c)).toBe(true);
  });

  it("keeps a JWT's header and claims, for the agent to read, and draws a new signature", () => {
    const part = (json: object) => Buffer.from(JSON.stringify(json)).toString("base64url");
    const head = `${part({ alg: "RS256", typ: "JWT" })}.${part({ exp: 1, email: "me@x" })}.`;
    const jwt = `${head}${"Sig-nature_0123456789abcdefABCDEF".repeat(3)}`;
    expect(jwtClaimsPart(jwt)).toBe(head);
    const dummy = makeDummy(jwt);
    expect(dummy.startsWith(head)).toBe(true);
    expect(dummy).toHaveLength(jwt.length);
    expect(dummy.slice(head.length)).not.toBe(jwt.slice(head.length));
    // Three dotted parts whose first is no JWT header are just a token.
    expect(jwtClaimsPart("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")).toBe("");
    expect(jwtClaimsPart(`${head}a.b`)).toBe("");
  });

  it("is fresh each time", () => {
    expect(makeDummy(REAL)).not.toBe(makeDummy(REAL));
  });

  it("draws letters and digits from the whole union of the token's classes", () => {
    // A hex token: lower-case letters and digits, in any position.
    const dummy = makeDummy("abcdef0123", (n) => n - 1);
    expect(dummy).toBe("9999999999");
  });
});

describe("sources", () => {
  const context = { env: { KEY: `  ${REAL}\n`, EMPTY: "" }, home: "/nonexistent-home" };

  it("reads an env variable, trimmed; an unset or empty one is not set up", async () => {
    expect(await readCredentialSource("a", { type: "env", name: "KEY" }, context)).toBe(REAL);
    expect(await readCredentialSource("a", { type: "env", name: "NOPE" }, context)).toBeNull();
    expect(await readCredentialSource("a", { type: "env", name: "EMPTY" }, context)).toBeNull();
  });

  it("reads a whole file trimmed, or the string at a JSON pointer", () => {
    expect(valueInFile("a", `${REAL}\n`, null)).toBe(REAL);
    const json = JSON.stringify({ o: { "a/b": [{ "t~k": REAL }] } });
    expect(valueInFile("a", json, "/o/a~1b/0/t~0k")).toBe(REAL);
    expect(valueInFile("a", json, "/o/missing")).toBeNull();
    expect(() => valueInFile("a", json, "/o")).toThrow("credential a: /o is not a string");
    expect(() => valueInFile("a", `{"k": "${REAL}"`, "/k")).toThrow(
      "credential a: the file is not valid JSON",
    );
    expect(() => valueInFile("a", `{"k": "${REAL}"`, "/k")).not.toThrow(REAL);
  });

  it("follows RFC 6901", () => {
    const doc = { foo: ["bar", "baz"], "": 0, "a/b": 1, "m~n": 8 };
    expect(atPointer(doc, "")).toBe(doc);
    expect(atPointer(doc, "/foo/0")).toBe("bar");
    expect(atPointer(doc, "/")).toBe(0);
    expect(atPointer(doc, "/a~1b")).toBe(1);
    expect(atPointer(doc, "/m~0n")).toBe(8);
    expect(atPointer(doc, "/foo/01")).toBeUndefined();
    expect(() => atPointer(doc, "foo")).toThrow("is not a JSON pointer");
  });

  it("treats a missing file as not set up", async () => {
    const source = { type: "file" as const, path: "~/missing.json", pointer: "/k" };
    expect(await readCredentialSource("a", source, context)).toBeNull();
  });

  it("runs a command and trims its output", async () => {
    const source = { type: "command" as const, argv: ["/bin/echo", ` ${REAL} `] };
    expect(await readCredentialSource("a", source, context)).toBe(REAL);
  });

  it("names the credential of a failing command, never its output", async () => {
    const argv = ["/bin/sh", "-c", `echo ${REAL}; echo ${REAL} >&2; exit 3`];
    const failing = readCredentialSource("anthropic", { type: "command", argv }, context);
    await expect(failing).rejects.toThrow(CredentialError);
    const error = (await failing.catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('credential anthropic: command "/bin/sh" exited with status 3');
    expect(error.message + String(error.stack)).not.toContain("REALsecret");
  });

  it("says so when a command cannot run or prints nothing", async () => {
    await expect(
      readCredentialSource("gh", { type: "command", argv: ["/no/such/tool"] }, context),
    ).rejects.toThrow('credential gh: command "/no/such/tool" could not run (ENOENT)');
    await expect(
      readCredentialSource("gh", { type: "command", argv: ["/bin/true"] }, context),
    ).rejects.toThrow('credential gh: command "/bin/true" printed nothing');
  });
});

const anthropic: ResolvedCredential = {
  name: "anthropic",
  hosts: ["api.anthropic.com"],
  real: REAL,
  dummy: makeDummy(REAL),
};
const github: ResolvedCredential = {
  name: "github",
  hosts: ["*.github.com"],
  real: "ghp_realREALreal0123456789",
  dummy: "ghp_dummDUMMdumm9876543210",
};

describe("injectCredentials", () => {
  const headers = ["Host", "api.anthropic.com", "x-api-key", anthropic.dummy, "Accept", "*/*"];

  it("swaps the dummy for the real value on the credential's hosts, where the dummy is", () => {
    const out = injectCredentials([anthropic, github], "API.Anthropic.com.", headers, "/v1/m");
    expect(out.headers).toEqual(["Host", "api.anthropic.com", "x-api-key", REAL, "Accept", "*/*"]);
    expect(out.injected).toEqual(["anthropic"]);
    expect(out.dummySentTo).toEqual([]);
  });

  it("keeps the format around the dummy and swaps it in the query, not the path", () => {
    const out = injectCredentials(
      [github],
      "api.github.com",
      ["Authorization", `Bearer ${github.dummy}`],
      `/x/${github.dummy}?t=${github.dummy}&u=1`,
    );
    expect(out.headers).toEqual(["Authorization", `Bearer ${github.real}`]);
    expect(out.path).toBe(`/x/${github.dummy}?t=${github.real}&u=1`);
  });

  it("forwards a dummy sent to another host as the dummy, and reports it", () => {
    const out = injectCredentials([anthropic, github], "evil.example", headers, "/");
    expect(out.headers).toEqual(headers);
    expect(out.injected).toEqual([]);
    expect(out.dummySentTo).toEqual(["anthropic"]);
    // `*.github.com` is subdomains only.
    const apex = injectCredentials([github], "github.com", ["a", github.dummy], "/");
    expect(apex.dummySentTo).toEqual(["github"]);
  });

  it("leaves a request without dummies alone, even on a credential host", () => {
    const plain = ["x-api-key", "something-else"];
    const out = injectCredentials([anthropic], "api.anthropic.com", plain, "/?a=b");
    expect(out).toEqual({ headers: plain, path: "/?a=b", injected: [], dummySentTo: [] });
  });
});

async function scrubbed(chunks: readonly Buffer[], creds: readonly ResolvedCredential[]) {
  return text(Readable.from(chunks).pipe(createScrubber(replacementsOf(creds))));
}

describe("response scrubbing", () => {
  const body = `{"echo":"${REAL}","b":"${REAL}${REAL}","g":"${github.real}", "tail":"${REAL.slice(0, 20)}"}`;
  const expected = body.replaceAll(REAL, anthropic.dummy).replaceAll(github.real, github.dummy);

  it("replaces real values at every split of the body into two chunks", async () => {
    const bytes = Buffer.from(body);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const out = await scrubbed(
        [bytes.subarray(0, cut), bytes.subarray(cut)],
        [anthropic, github],
      );
      expect(out, `cut at ${cut}`).toBe(expected);
    }
  });

  it("replaces real values when the body comes a byte or three at a time", async () => {
    const bytes = Buffer.from(body);
    for (const size of [1, 2, 3]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(await scrubbed(chunks, [anthropic, github])).toBe(expected);
    }
  });

  it("without the holdback, a split real value would get through", async () => {
    const bytes = Buffer.from(`x${REAL}x`);
    const halves = [bytes.subarray(0, 10), bytes.subarray(10)];
    const naive = halves.map((half) => half.toString().replaceAll(REAL, anthropic.dummy)).join("");
    expect(naive).toContain(REAL);
    expect(await scrubbed(halves, [anthropic])).toBe(`x${anthropic.dummy}x`);
  });

  it("holds back only a tail that could start a real value", () => {
    const replacements = replacementsOf([anthropic]);
    expect(pendingTail(Buffer.from("data: hello\n\n"), replacements)).toBe(0);
    expect(pendingTail(Buffer.from(`data: ${REAL.slice(0, 9)}`), replacements)).toBe(9);
  });

  it("scrubs header values", () => {
    expect(scrubHeaders(["X-Echo", `k=${REAL}`], replacementsOf([anthropic]))).toEqual([
      "X-Echo",
      `k=${anthropic.dummy}`,
    ]);
  });

  it("asks credential hosts for identity and decodes a body compressed anyway", async () => {
    const swap = createCredentialSwap([anthropic]);
    const request = swap.request("api.anthropic.com", ["Accept-Encoding", "gzip, br"], "/");
    expect(request.headers).toEqual(["Accept-Encoding", "identity"]);
    const response = request.scrub(["Content-Encoding", "gzip", "Content-Length", "99", "A", "b"]);
    expect(response.headers).toEqual(["A", "b"]);
    let stream: Readable = Readable.from([gzipSync(`echo ${REAL}`)]);
    for (const stage of response.body) stream = stream.pipe(stage);
    expect(await text(stream)).toBe(`echo ${anthropic.dummy}`);
    // Other hosts keep their encoding, and the client's.
    const other = swap.request("example.com", ["Accept-Encoding", "gzip"], "/");
    expect(other.headers).toEqual(["Accept-Encoding", "gzip"]);
    expect(other.scrub(["Content-Encoding", "gzip"]).body).toHaveLength(1);
  });
});

describe("tokens inside Basic credentials (git's password)", () => {
  const basic = (pair: string) => `Basic ${Buffer.from(pair).toString("base64")}`;

  it("are swapped for the real token on the credential's hosts, and the value re-encoded", () => {
    const out = injectCredentials(
      [github],
      "codeload.github.com",
      ["Authorization", basic(`x-access-token:${github.dummy}`)],
      "/me/repo.git/info/refs",
    );
    expect(out.headers).toEqual(["Authorization", basic(`x-access-token:${github.real}`)]);
    expect(out.injected).toEqual(["github"]);
  });

  it("stay dummies, and are reported, anywhere else", () => {
    const header = basic(`x-access-token:${github.dummy}`);
    const out = injectCredentials([github], "example.com", ["Authorization", header], "/");
    expect(out.headers).toEqual(["Authorization", header]);
    expect(out.dummySentTo).toEqual(["github"]);
  });

  it("leave other Basic credentials as they are", () => {
    const header = basic("alice:hunter2");
    const out = injectCredentials([github], "api.github.com", ["Authorization", header], "/");
    expect(out.headers).toEqual(["Authorization", header]);
    expect(out.injected).toEqual([]);
  });
});

describe("real values on their way out", () => {
  it("leave for a host they do not belong to as their dummies, in headers, path and body", async () => {
    const swap = createCredentialSwap([anthropic]);
    const request = swap.request("paste.example.com", ["X-Note", `k=${REAL}`], `/p?q=${REAL}`);
    expect(request.headers).toEqual(["X-Note", `k=${anthropic.dummy}`]);
    expect(request.path).toBe(`/p?q=${anthropic.dummy}`);
    const body = request.requestBody;
    expect(body).not.toBeNull();
    const halves = [Buffer.from(`a${REAL}`.slice(0, 12)), Buffer.from(`a${REAL}b`.slice(12))];
    expect(await text(Readable.from(halves).pipe((body as () => Transform)()))).toBe(
      `a${anthropic.dummy}b`,
    );
  });

  it("leave inside Basic credentials as their dummies too", () => {
    const basic = (pair: string) => `Basic ${Buffer.from(pair).toString("base64")}`;
    const swap = createCredentialSwap([anthropic]);
    const request = swap.request("paste.example.com", ["Authorization", basic(`u:${REAL}`)], "/");
    expect(request.headers).toEqual(["Authorization", basic(`u:${anthropic.dummy}`)]);
  });

  it("stay as they are where they belong", () => {
    const swap = createCredentialSwap([anthropic]);
    const request = swap.request("api.anthropic.com", ["X-Note", REAL], `/p?q=${REAL}`);
    expect(request.headers).toContain(REAL);
    expect(request.path).toBe(`/p?q=${REAL}`);
    expect(request.requestBody).toBeNull();
  });
});

const ACCESS = "sk-ant-oat01-accessACCESSaccess0123456789";
const REFRESH = "sk-ant-ort01-refreshREFRESHrefresh0123456";
const pointers = {
  accessPointer: "/claudeAiOauth/accessToken",
  refreshPointer: "/claudeAiOauth/refreshToken",
  expiresAtPointer: "/claudeAiOauth/expiresAt",
};
const TOKEN_URL = "https://platform.claude.com/v1/oauth/token";

describe("OAuth token requests", () => {
  it("knows a token endpoint by host and path, whatever the query and case", () => {
    expect(isTokenEndpoint([TOKEN_URL], "Platform.Claude.com.", "/v1/oauth/token?x=1")).toBe(true);
    expect(isTokenEndpoint([TOKEN_URL], "platform.claude.com", "/v1/oauth/token/")).toBe(false);
    expect(isTokenEndpoint([TOKEN_URL], "claude.ai", "/v1/oauth/token")).toBe(false);
  });

  it("finds and swaps the refresh dummy in a JSON body, as a whole string only", () => {
    const body = JSON.stringify({ grant_type: "refresh_token", refresh_token: "D1", note: "xD1x" });
    expect(refreshDummyIn(body, "application/json", ["D0", "D1"])).toBe("D1");
    expect(refreshDummyIn('{"note":"xD1x"}', "application/json", ["D1"])).toBeNull();
    expect(JSON.parse(swapRefreshToken(body, "application/json", "D1", "real-1/2"))).toEqual({
      grant_type: "refresh_token",
      refresh_token: "real-1/2",
      note: "xD1x",
    });
  });

  it("finds and swaps the refresh dummy in a form body, percent-encoded as the form needs", () => {
    const dummy = "1//0dummyDUMMY-_~";
    const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: dummy });
    const type = "application/x-www-form-urlencoded; charset=utf-8";
    expect(refreshDummyIn(body.toString(), type, [dummy])).toBe(dummy);
    const swapped = swapRefreshToken(body.toString(), type, dummy, "1//0real+REAL=");
    expect(swapped).toBe("grant_type=refresh_token&refresh_token=1%2F%2F0real%2BREAL%3D");
    // A body that is neither is never touched.
    expect(refreshDummyIn(`refresh_token=${dummy}`, "text/plain", [dummy])).toBeNull();
  });

  it("reads the tokens of a token endpoint's answer (RFC 6749 §5.1)", () => {
    expect(
      tokenResponseOf('{"access_token":"a","refresh_token":"r","expires_in":3600,"x":1}'),
    ).toEqual({ accessToken: "a", refreshToken: "r", otherTokens: [], expiresIn: 3600 });
    expect(tokenResponseOf('{"access_token":"a","id_token":"i","token_type":"Bearer"}')).toEqual({
      accessToken: "a",
      refreshToken: null,
      otherTokens: ["i"],
      expiresIn: null,
    });
    expect(tokenResponseOf('{"error":"invalid_grant"}')).toBeNull();
    expect(tokenResponseOf("access_token=a&refresh_token=r")).toBeNull();
  });

  it("saves a refresh in the login file, keeping the rest and its layout", () => {
    const login = {
      claudeAiOauth: { accessToken: "A0", refreshToken: "R0", expiresAt: 1, scopes: ["s"] },
      other: true,
    };
    const tokens = { accessToken: "A1", refreshToken: "R1", otherTokens: [], expiresIn: 60 };
    const pretty = refreshedLoginFile(`${JSON.stringify(login, null, 2)}\n`, pointers, tokens, 5);
    expect(pretty).toBe(
      `${JSON.stringify(
        {
          claudeAiOauth: {
            accessToken: "A1",
            refreshToken: "R1",
            expiresAt: 60_005,
            scopes: ["s"],
          },
          other: true,
        },
        null,
        2,
      )}\n`,
    );
    // A server that keeps the refresh token says nothing of it; a file without expiry gets none.
    const kept = refreshedLoginFile(
      JSON.stringify(login),
      { ...pointers, expiresAtPointer: null },
      { ...tokens, refreshToken: null },
      5,
    );
    expect(JSON.parse(kept).claudeAiOauth).toEqual({ ...login.claudeAiOauth, accessToken: "A1" });
    expect(kept).not.toContain("\n");
    expect(loginTokensOf(kept, pointers)).toEqual({ access: "A1", refresh: "R0" });
  });
});

describe("token refresh through the swap", () => {
  const dir = mkdtempSync(join(tmpdir(), "jailed-login-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function loginCredential(file: string): ResolvedCredential {
    writeFileSync(
      file,
      JSON.stringify({
        claudeAiOauth: { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: 1 },
      }),
      { mode: 0o600 },
    );
    return {
      name: "claude-oauth",
      hosts: ["api.anthropic.com"],
      real: ACCESS,
      dummy: makeDummy(ACCESS),
      oauth: {
        ...pointers,
        file,
        tokenUrls: [TOKEN_URL],
        refresh: { real: REFRESH, dummy: makeDummy(REFRESH) },
      },
    };
  }

  /** The body through the stages, as the proxy pipes it; a stage's error rejects. */
  function through(stages: readonly Transform[], body: string): Promise<string> {
    const streams = [Readable.from([Buffer.from(body)]), ...stages];
    return text(pipeline(streams, () => {}) as unknown as Readable);
  }

  /** One refresh as the proxy runs it: the request's body in, the endpoint's answer out. */
  async function refresh(
    swap: ReturnType<typeof createCredentialSwap>,
    refreshDummy: string,
    answer: (sent: string) => object,
  ) {
    const request = swap.request(
      "platform.claude.com",
      ["Content-Type", "application/json"],
      "/v1/oauth/token",
    );
    const body = JSON.stringify({ grant_type: "refresh_token", refresh_token: refreshDummy });
    const prepared = await request.refresh?.prepare(
      request.headers,
      Readable.from([Buffer.from(body)]),
    );
    const sent = JSON.parse(prepared?.body.toString() ?? "").refresh_token as string;
    const jail = JSON.parse(
      await through(
        request.scrub(["Content-Type", "application/json"]).body,
        JSON.stringify(answer(sent)),
      ),
    ) as Record<string, string>;
    request.refresh?.close();
    return { request, prepared, sent, jail };
  }

  it("sends the real refresh token, hands the jail dummies, injects the new access token, saves the login", async () => {
    const file = join(dir, "login.json");
    const credential = loginCredential(file);
    const swap = createCredentialSwap([credential]);
    const { request, prepared, sent, jail } = await refresh(
      swap,
      credential.oauth?.refresh.dummy ?? "",
      () => ({ access_token: `${ACCESS}NEW`, refresh_token: `${REFRESH}NEW`, expires_in: 3600 }),
    );
    expect(sent).toBe(REFRESH);
    expect(request.headers).toContain("identity");
    expect(prepared?.headers).toEqual(
      expect.arrayContaining(["Content-Length", String(prepared?.body.length)]),
    );
    expect(request.injected).toEqual(["claude-oauth"]);
    // The jail gets fresh dummies of the new tokens' shape.
    expect(jail.access_token).toMatch(/^sk-ant-oat01-/);
    expect(jail.access_token).toHaveLength(ACCESS.length + 3);
    expect(jail.access_token).not.toBe(`${ACCESS}NEW`);
    expect(jail.refresh_token).toMatch(/^sk-ant-ort01-/);
    expect(JSON.stringify(jail)).not.toContain("NEW");
    // The new access dummy now brings the new real token to the API host; the old one still its own.
    const api = swap.request(
      "api.anthropic.com",
      ["authorization", `Bearer ${jail.access_token}`],
      "/",
    );
    expect(api.headers).toContain(`Bearer ${ACCESS}NEW`);
    // The host's file holds the new real tokens and their expiry.
    const saved = JSON.parse(readFileSync(file, "utf8")).claudeAiOauth;
    expect(saved.accessToken).toBe(`${ACCESS}NEW`);
    expect(saved.refreshToken).toBe(`${REFRESH}NEW`);
    expect(saved.expiresAt).toBeGreaterThan(Date.now());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The next refresh, with the new dummy, sends the new real refresh token.
    const next = await refresh(swap, jail.refresh_token ?? "", () => ({ access_token: "x" }));
    expect(next.sent).toBe(`${REFRESH}NEW`);
  });

  it("two runs sharing one login: each sends the refresh token the host's file holds now", async () => {
    const file = join(dir, "shared.json");
    const first = loginCredential(file);
    const second = {
      ...first,
      dummy: makeDummy(ACCESS),
      oauth: {
        ...(first.oauth as NonNullable<ResolvedCredential["oauth"]>),
        refresh: { real: REFRESH, dummy: makeDummy(REFRESH) },
      },
    };
    const runA = createCredentialSwap([first]);
    const runB = createCredentialSwap([second]);
    const rotate = (sent: string) => ({ access_token: `${sent}-A`, refresh_token: `${sent}-R` });
    const a = await refresh(runA, first.oauth?.refresh.dummy ?? "", rotate);
    expect(a.sent).toBe(REFRESH);
    // B started with the same login; A's refresh rotated its refresh token since.
    const b = await refresh(runB, second.oauth.refresh.dummy, rotate);
    expect(b.sent).toBe(`${REFRESH}-R`);
    const again = await refresh(runA, a.jail.refresh_token ?? "", rotate);
    expect(again.sent).toBe(`${REFRESH}-R-R`);
    expect(loginTokensOf(readFileSync(file, "utf8"), pointers).refresh).toBe(`${REFRESH}-R-R-R`);
  });

  it("a refresh of the same login at the same time waits for the first to save, then sends its token", async () => {
    const file = join(dir, "concurrent.json");
    const first = loginCredential(file);
    const runA = createCredentialSwap([first]);
    const runB = createCredentialSwap([first]);
    const body = Buffer.from(JSON.stringify({ refresh_token: first.oauth?.refresh.dummy }));
    const start = (swap: ReturnType<typeof createCredentialSwap>) => {
      const request = swap.request(
        "platform.claude.com",
        ["Content-Type", "application/json"],
        "/v1/oauth/token",
      );
      return {
        request,
        prepared: request.refresh?.prepare(request.headers, Readable.from([body])),
      };
    };
    const a = start(runA);
    const sentA = JSON.parse((await a.prepared)?.body.toString() ?? "").refresh_token;
    // A holds the login's lock until its exchange is over; B, started now, has to wait for it.
    expect(statSync(`${file}.jailed-lock`).isDirectory()).toBe(true);
    const b = start(runB);
    await through(
      a.request.scrub(["Content-Type", "application/json"]).body,
      JSON.stringify({ access_token: `${ACCESS}A`, refresh_token: `${REFRESH}A` }),
    );
    a.request.refresh?.close();
    const sentB = JSON.parse((await b.prepared)?.body.toString() ?? "").refresh_token;
    b.request.refresh?.close();
    expect(sentA).toBe(REFRESH);
    expect(sentB).toBe(`${REFRESH}A`);
  });

  it("turns an ID token beside the new tokens into a dummy too", async () => {
    const swap = createCredentialSwap([loginCredential(join(dir, "oidc.json"))]);
    const { jail } = await refresh(swap, "not-ours", () => ({
      access_token: "ya29.access0123456789",
      id_token: "idTOKENid0123456789",
      token_type: "Bearer",
    }));
    expect(jail.id_token).toHaveLength("idTOKENid0123456789".length);
    expect(jail.id_token).not.toBe("idTOKENid0123456789");
    expect(jail.token_type).toBe("Bearer");
  });

  it("passes a request without the run's dummy as it is; an answer to it still reaches the jail as dummies", async () => {
    const file = join(dir, "other.json");
    const swap = createCredentialSwap([loginCredential(file)]);
    const { sent, jail } = await refresh(swap, "somebody-elses-token", () => ({
      access_token: "sk-ant-oat01-madeInTheJail0123",
    }));
    expect(sent).toBe("somebody-elses-token");
    expect(jail.access_token).not.toBe("sk-ant-oat01-madeInTheJail0123");
    // Not the host's login: its file is left alone.
    expect(loginTokensOf(readFileSync(file, "utf8"), pointers).access).toBe(ACCESS);
  });

  it("fails closed: a login file without a refresh token stops the request, naming no value", async () => {
    const file = join(dir, "gone.json");
    const credential = loginCredential(file);
    writeFileSync(file, JSON.stringify({ claudeAiOauth: { accessToken: ACCESS } }));
    const swap = createCredentialSwap([credential]);
    const request = swap.request(
      "platform.claude.com",
      ["Content-Type", "application/json"],
      "/v1/oauth/token",
    );
    const body = JSON.stringify({ refresh_token: credential.oauth?.refresh.dummy });
    const prepared = request.refresh?.prepare(request.headers, Readable.from([Buffer.from(body)]));
    await expect(prepared).rejects.toThrow(
      `credential claude-oauth: ${file} holds no refresh token any more`,
    );
    request.refresh?.close();
  });

  it("fails closed: an answer whose tokens cannot be rewritten is cut, not forwarded", async () => {
    const swap = createCredentialSwap([loginCredential(join(dir, "escaped.json"))]);
    const request = swap.request("platform.claude.com", [], "/v1/oauth/token");
    // JSON may escape "/" as "\/": the raw value is not in the text, so it cannot be replaced.
    const answer = '{"access_token":"ya29.a\\/b0123456789"}';
    await expect(through(request.scrub([]).body, answer)).rejects.toThrow(
      "credential claude-oauth: the token endpoint's answer could not be rewritten",
    );
  });
});
