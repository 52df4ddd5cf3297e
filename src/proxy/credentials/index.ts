import type { Transform } from "node:stream";
import zlib from "node:zlib";
import { withHeader } from "../headers.js";
import { makeDummy } from "./dummy.js";
import { headerValue, withoutHeaders } from "./fields.js";
import {
  editBasic,
  type Injected,
  injectCredentials,
  isCredentialHost,
  type ResolvedCredential,
} from "./inject.js";
import {
  createTokenRefresh,
  loginsOf,
  type TokenRefresh,
  type TokenTable,
  tokenLoginFor,
} from "./refresh.js";
import { createScrubber, replacementsOf, scrubHeaders } from "./scrub.js";

export { makeDummy } from "./dummy.js";
export type { ResolvedCredential, ResolvedOAuth } from "./inject.js";
export type { TokenRefresh } from "./refresh.js";
export {
  COMMAND_TIMEOUT_MS,
  CredentialError,
  readCredentialSource,
  valueInFile,
} from "./source.js";

/** A response on its way to the jail: its end-to-end headers and the streams its body goes through. */
export interface ScrubbedResponse {
  headers: string[];
  body: Transform[];
}

export type ResponseScrub = (headers: readonly string[]) => ScrubbedResponse;

export interface SwappedRequest extends Injected {
  scrub: ResponseScrub;
  /**
   * Set for a request to a login's token endpoint: its body must go through `prepare` before
   * the request is sent, and `close` be called when the exchange is over. Names of credentials
   * it injects are added to `injected` by `prepare`.
   */
  refresh: TokenRefresh | null;
  /**
   * For a request to a host no credential belongs to: the stage its body goes through, where a real
   * value becomes its dummy, as it does in headers and path. Null where real values belong.
   */
  requestBody: (() => Transform) | null;
}

export interface CredentialSwap {
  /** Injects real values into a request to `host` and says how to clean its response. */
  request(host: string, headers: readonly string[], path: string): SwappedRequest;
}

const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(),
  "x-gzip": () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * The run's credentials at work in the proxy. Every response is scrubbed: a real value in its
 * headers or body reaches the jail as the dummy. Only a credential's own hosts (and its login's
 * token endpoints) ever get a real value, so only their responses can carry one compressed:
 * requests to them ask for `accept-encoding: identity`, and a body compressed all the same is
 * decoded before it is scrubbed (and forwarded decoded). Other hosts' compressed bodies pass as
 * they are. A token endpoint's answer is read whole: its new tokens become dummies, and later
 * requests with those dummies get the new real values.
 */
export function createCredentialSwap(credentials: readonly ResolvedCredential[]): CredentialSwap {
  const replacements = replacementsOf(credentials);
  const dummies = new Map(credentials.map(({ real, dummy }) => [real, dummy]));
  const table: TokenTable = {
    access: [...credentials],
    dummyFor(real) {
      let dummy = dummies.get(real);
      if (dummy === undefined) {
        dummy = makeDummy(real);
        dummies.set(real, dummy);
        // In place: scrubbers of responses already under way see it too.
        replacements.push(...replacementsOf([{ real, dummy }]));
      }
      return dummy;
    },
  };
  const logins = loginsOf(credentials);
  for (const { credential } of logins) table.dummyFor(credential.oauth.refresh.real);
  const scrubWith =
    (decode: boolean, stages: () => Transform[]): ResponseScrub =>
    (headers) => {
      const encoding = headerValue(headers, "content-encoding")?.trim().toLowerCase();
      const decoder = decode && encoding !== undefined ? DECODERS[encoding] : undefined;
      const kept =
        decoder === undefined
          ? headers
          : withoutHeaders(headers, ["content-encoding", "content-length"]);
      return {
        headers: scrubHeaders(kept, replacements),
        body: [
          ...(decoder === undefined ? [] : [decoder()]),
          ...stages(),
          createScrubber(replacements),
        ],
      };
    };
  return {
    request(host, headers, path) {
      const injected = injectCredentials(table.access, host, headers, path);
      const login = tokenLoginFor(logins, host, path);
      const refresh =
        login === undefined ? null : createTokenRefresh(login, table, injected.injected);
      const decode =
        refresh !== null || credentials.some((credential) => isCredentialHost(credential, host));
      if (decode) {
        return {
          ...injected,
          headers: withHeader(injected.headers, "Accept-Encoding", "identity"),
          scrub: scrubWith(decode, () => (refresh === null ? [] : [refresh.answer()])),
          refresh,
          requestBody: null,
        };
      }
      // A real value the jail should never have held (one a host replaced under its dummy during the
      // run, say: SECURITY.md) leaves for anywhere else as its dummy; lengths are kept.
      return {
        ...injected,
        headers: scrubHeaders(injected.headers, replacements).map((value) =>
          editBasic(value, (pair) => scrubHeaders([pair], replacements)[0] ?? pair),
        ),
        path: scrubHeaders([injected.path], replacements)[0] ?? injected.path,
        scrub: scrubWith(decode, () => []),
        refresh,
        requestBody: () => createScrubber(replacements),
      };
    },
  };
}
