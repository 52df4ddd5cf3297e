import { closeSync, openSync, readSync } from "node:fs";

/**
 * Bytes from the kernel's random source, read as a file. node:crypto gives the same bytes, but
 * loading it takes ~3 ms (seventeen of node's modules), and what a proxied run does before its
 * jail starts (its proxy token, its dummies) delays the start; the proxy loads node:crypto after.
 */
export function kernelRandomBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  const fd = openSync("/dev/urandom", "r");
  try {
    let filled = 0;
    while (filled < size) filled += readSync(fd, bytes, filled, size - filled, null);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

const BYTE_VALUES = 256;

/**
 * Draws uniform integers in [0, n), for n up to 256, from kernel random bytes read in batches: a
 * byte at or above the largest multiple of n is drawn again, as it would favour the small values.
 */
export function randomPicker(): (n: number) => number {
  let pool: Buffer = Buffer.alloc(0);
  let next = 0;
  return (n) => {
    if (!Number.isInteger(n) || n < 1 || n > BYTE_VALUES) {
      throw new RangeError(`randomPicker draws below 1 to ${BYTE_VALUES}, not ${n}`);
    }
    const limit = BYTE_VALUES - (BYTE_VALUES % n);
    for (;;) {
      if (next === pool.length) {
        pool = kernelRandomBytes(BYTE_VALUES);
        next = 0;
      }
      const byte = pool[next++] as number;
      if (byte < limit) return byte % n;
    }
  };
}
