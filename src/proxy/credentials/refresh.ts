import type { Readable } from "node:stream";
import { Transform, type TransformCallback } from "node:stream";
import { withHeader } from "../headers.js";
import { headerValue, withoutHeaders } from "./fields.js";
import type { ResolvedCredential, ResolvedOAuth } from "./inject.js";
import { lockLogin, readLogin, saveLogin } from "./login.js";
import {
  isTokenEndpoint,
  loginTokensOf,
  refreshDummyIn,
  refreshedLoginFile,
  swapRefreshToken,
  type TokenResponse,
  tokenResponseOf,
} from "./oauth.js";

/** Token requests and answers are a few KiB; anything much bigger is not one. */
const MAX_TOKEN_BODY = 1 << 20;

/** The run's real values and their dummies, growing as refreshes bring new tokens. */
export interface TokenTable {
  /** Access tokens of every generation, as injection takes them. */
  access: ResolvedCredential[];
  /** The dummy standing for `real`: the one it already has, or a fresh one, remembered. */
  dummyFor(real: string): string;
}

/** An OAuth login of the run, and the refresh-token dummies the jail may hold for it. */
export interface Login {
  credential: ResolvedCredential & { oauth: ResolvedOAuth };
  /**
   * Dummy -> the real refresh token it stands for; null for the dummies of the host's login,
   * which stand for whatever refresh token the host's file holds at the time of the refresh.
   */
  refreshDummies: Map<string, string | null>;
}

export function loginsOf(credentials: readonly ResolvedCredential[]): Login[] {
  return credentials.flatMap((credential) =>
    credential.oauth === undefined
      ? []
      : [
          {
            credential: { ...credential, oauth: credential.oauth },
            refreshDummies: new Map([[credential.oauth.refresh.dummy, null]]),
          },
        ],
  );
}

export function tokenLoginFor(
  logins: readonly Login[],
  host: string,
  path: string,
): Login | undefined {
  return logins.find((login) => isTokenEndpoint(login.credential.oauth.tokenUrls, host, path));
}

/** A request to a login's token endpoint on its way: its body is read whole before it goes. */
export interface TokenRefresh {
  /**
   * Reads the request body. When it carries a dummy of the host's login, takes the login's lock
   * and puts the refresh token the host's file holds now in the dummy's place (another run, or
   * the host's own agent, may have refreshed since this run started); a dummy of a login made in
   * the jail gets its own real value. Rejects with a message that holds no value.
   */
  prepare(headers: readonly string[], body: Readable): Promise<{ headers: string[]; body: Buffer }>;
  /** The stage that turns the answer's new tokens into dummies and saves the host's login. */
  answer(): Transform;
  /** Once the exchange is over, however it ended: releases the lock. */
  close(): void;
}

export function createTokenRefresh(
  login: Login,
  table: TokenTable,
  injected: string[],
  now: () => number = Date.now,
): TokenRefresh {
  const { name, oauth } = login.credential;
  /** The host file's text as the refresh read it, under the lock; null when not refreshing the host's login. */
  let hostText: string | null = null;
  let release: () => Promise<void> = async () => {};
  let saving: Promise<void> = Promise.resolve();
  let closed = false;
  const fail = (why: string) => new Error(`credential ${name}: ${why}`);

  const swapIn = async (body: string, contentType: string | undefined): Promise<string> => {
    const dummy = refreshDummyIn(body, contentType, login.refreshDummies.keys());
    if (dummy === null) return body;
    if (!injected.includes(name)) injected.push(name);
    const fixed = login.refreshDummies.get(dummy) ?? null;
    if (fixed !== null) return swapRefreshToken(body, contentType, dummy, fixed);
    release = await lockLogin(oauth.file).catch((error: Error) => {
      throw fail(`cannot lock the login file: ${error.message}`);
    });
    // The client went away while this run waited for the lock: nothing is sent.
    if (closed) {
      await release();
      throw fail("the token request was abandoned");
    }
    const text = await readLogin(oauth.file).catch((error: NodeJS.ErrnoException) => {
      throw fail(`cannot read ${oauth.file} (${error.code ?? error.message})`);
    });
    let current: string | null;
    try {
      current = loginTokensOf(text, oauth).refresh;
    } catch {
      throw fail(`${oauth.file} is no longer a JSON login file`);
    }
    if (current === null) throw fail(`${oauth.file} holds no refresh token any more`);
    // Scrubbed from answers like every real value, should the server echo it.
    table.dummyFor(current);
    hostText = text;
    return swapRefreshToken(body, contentType, dummy, current);
  };

  /** The answer with its new tokens as dummies, remembered; the host's login saved when refreshed. */
  const settle = async (text: string): Promise<string> => {
    const tokens = tokenResponseOf(text);
    if (tokens === null) return text;
    const access = table.dummyFor(tokens.accessToken);
    table.access.push({ ...login.credential, real: tokens.accessToken, dummy: access });
    let rewritten = text.replaceAll(tokens.accessToken, access);
    if (tokens.refreshToken !== null) {
      const refresh = table.dummyFor(tokens.refreshToken);
      login.refreshDummies.set(refresh, hostText === null ? tokens.refreshToken : null);
      rewritten = rewritten.replaceAll(tokens.refreshToken, refresh);
    }
    // An ID token is the jail's to read (a dummy keeps a JWT's claims), never to send on.
    for (const other of tokens.otherTokens)
      rewritten = rewritten.replaceAll(other, table.dummyFor(other));
    // The values as the JSON holds them must be gone, however the server escaped them.
    const check = tokenResponseOf(rewritten);
    const refreshDummy = tokens.refreshToken === null ? null : table.dummyFor(tokens.refreshToken);
    if (
      check?.accessToken !== access ||
      check.refreshToken !== refreshDummy ||
      check.otherTokens.join() !== tokens.otherTokens.map(table.dummyFor).join()
    )
      throw fail("the token endpoint's answer could not be rewritten");
    if (hostText !== null) await save(hostText, tokens);
    return rewritten;
  };

  const save = async (text: string, tokens: TokenResponse) => {
    saving = saveLogin(oauth.file, refreshedLoginFile(text, oauth, tokens, now())).catch(
      (error: NodeJS.ErrnoException) => {
        // The jail has its new dummies and this run goes on; only the host's login is behind.
        process.stderr.write(
          `jailed: credential ${name}: could not save the refreshed login to ${oauth.file} (${error.code ?? error.message}); log in again on the host\n`,
        );
      },
    );
    await saving;
  };

  return {
    async prepare(headers, body) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > MAX_TOKEN_BODY) throw fail("the token request is too large");
        chunks.push(chunk as Buffer);
      }
      const text = await swapIn(
        Buffer.concat(chunks).toString("utf8"),
        headerValue(headers, "content-type"),
      );
      const bytes = Buffer.from(text);
      return {
        headers: withHeader(
          withoutHeaders(headers, ["transfer-encoding", "content-length"]),
          "Content-Length",
          String(bytes.length),
        ),
        body: bytes,
      };
    },
    answer() {
      const chunks: Buffer[] = [];
      let size = 0;
      return new Transform({
        transform(chunk: Buffer, _encoding, done: TransformCallback) {
          size += chunk.length;
          if (size > MAX_TOKEN_BODY) {
            done(fail("the token endpoint's answer is too large"));
            return;
          }
          chunks.push(chunk);
          done();
        },
        flush(done: TransformCallback) {
          settle(Buffer.concat(chunks).toString("utf8")).then(
            (text) => done(null, text),
            (error: Error) => done(error),
          );
        },
      });
    },
    close() {
      closed = true;
      void saving.finally(() => release());
    },
  };
}
