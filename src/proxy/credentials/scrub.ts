import { Transform, type TransformCallback } from "node:stream";

/** A real value and the dummy that stands for it, as bytes; both the same length. */
export interface Replacement {
  real: Buffer;
  dummy: Buffer;
}

export function replacementsOf(
  credentials: readonly { real: string; dummy: string }[],
): Replacement[] {
  return credentials.map(({ real, dummy }) => ({
    real: Buffer.from(real),
    dummy: Buffer.from(dummy),
  }));
}

/** Overwrites every real value in `bytes` with its dummy, in place (same length: offsets hold). */
export function scrubInPlace(bytes: Buffer, replacements: readonly Replacement[]): void {
  for (const { real, dummy } of replacements) {
    for (let at = bytes.indexOf(real); at !== -1; at = bytes.indexOf(real, at + real.length)) {
      dummy.copy(bytes, at);
    }
  }
}

/**
 * How many bytes at the end of `bytes` could be the start of a real value that the next chunk
 * completes: the longest such suffix, so a body without a near-match is held back not at all.
 */
export function pendingTail(bytes: Buffer, replacements: readonly Replacement[]): number {
  let longest = 0;
  for (const { real } of replacements) {
    for (let k = Math.min(real.length - 1, bytes.length); k > longest; k--) {
      const start = bytes.length - k;
      if (bytes[start] === real[0] && bytes.compare(real, 0, k, start) === 0) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

/** Header values with real values replaced by their dummies. */
export function scrubHeaders(
  raw: readonly string[],
  replacements: readonly Replacement[],
): string[] {
  return raw.map((field) => {
    const bytes = Buffer.from(field, "latin1");
    scrubInPlace(bytes, replacements);
    return bytes.toString("latin1");
  });
}

/**
 * A stream that replaces real values by their dummies however the bytes are split into chunks:
 * it holds back only a tail that may be the start of a real value, until the next chunk (or the
 * end) decides. Lengths are kept, so a Content-Length stays right.
 */
export function createScrubber(replacements: readonly Replacement[]): Transform {
  let held: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const bytes = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      scrubInPlace(bytes, replacements);
      const keep = pendingTail(bytes, replacements);
      held = bytes.subarray(bytes.length - keep);
      done(null, keep === bytes.length ? undefined : bytes.subarray(0, bytes.length - keep));
    },
    flush(done: TransformCallback) {
      done(null, held.length === 0 ? undefined : held);
    },
  });
}
