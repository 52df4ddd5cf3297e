import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { knownPrefix, makeDummy } from "../../../src/proxy/credentials/dummy.js";
import { createCredentialSwap } from "../../../src/proxy/credentials/index.js";
import {
  injectCredentials,
  type ResolvedCredential,
} from "../../../src/proxy/credentials/inject.js";
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
