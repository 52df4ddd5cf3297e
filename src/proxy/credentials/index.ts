import type { Transform } from "node:stream";
import zlib from "node:zlib";
import { withHeader } from "../headers.js";
import {
  type Injected,
  injectCredentials,
  isCredentialHost,
  type ResolvedCredential,
} from "./inject.js";
import { createScrubber, replacementsOf, scrubHeaders } from "./scrub.js";

export { makeDummy } from "./dummy.js";
export type { ResolvedCredential } from "./inject.js";
export { COMMAND_TIMEOUT_MS, CredentialError, readCredentialSource } from "./source.js";

/** A response on its way to the jail: its end-to-end headers and the streams its body goes through. */
export interface ScrubbedResponse {
  headers: string[];
  body: Transform[];
}

export type ResponseScrub = (headers: readonly string[]) => ScrubbedResponse;

export interface SwappedRequest extends Injected {
  scrub: ResponseScrub;
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
 * headers or body reaches the jail as the dummy. Only a credential's own hosts ever get a real
 * value, so only their responses can carry one compressed: requests to them ask for
 * `accept-encoding: identity`, and a body compressed all the same is decoded before it is
 * scrubbed (and forwarded decoded). Other hosts' compressed bodies pass as they are.
 */
export function createCredentialSwap(credentials: readonly ResolvedCredential[]): CredentialSwap {
  const replacements = replacementsOf(credentials);
  const plainScrub =
    (decode: boolean): ResponseScrub =>
    (headers) => {
      const encoding = headerValue(headers, "content-encoding")?.trim().toLowerCase();
      const decoder = decode && encoding !== undefined ? DECODERS[encoding] : undefined;
      const kept =
        decoder === undefined
          ? headers
          : withoutHeaders(headers, ["content-encoding", "content-length"]);
      return {
        headers: scrubHeaders(kept, replacements),
        body: [...(decoder === undefined ? [] : [decoder()]), createScrubber(replacements)],
      };
    };
  return {
    request(host, headers, path) {
      const injected = injectCredentials(credentials, host, headers, path);
      const toCredentialHost = credentials.some((credential) => isCredentialHost(credential, host));
      return {
        ...injected,
        headers: toCredentialHost
          ? withHeader(injected.headers, "Accept-Encoding", "identity")
          : injected.headers,
        scrub: plainScrub(toCredentialHost),
      };
    },
  };
}

function headerValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}

function withoutHeaders(raw: readonly string[], names: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!names.includes((raw[i] as string).toLowerCase()))
      kept.push(raw[i] as string, raw[i + 1] as string);
  }
  return kept;
}
