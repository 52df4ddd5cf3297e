import { describe, expect, it } from "vitest";
import { kernelRandomBytes, randomPicker } from "../../../src/proxy/credentials/random.js";

describe("kernelRandomBytes", () => {
  it("fills exactly the size asked for, with fresh bytes each time", () => {
    const sizes = [0, 1, 3, 24, 4096];
    for (const size of sizes) expect(kernelRandomBytes(size)).toHaveLength(size);
    expect(kernelRandomBytes(24).equals(kernelRandomBytes(24))).toBe(false);
  });
});

describe("randomPicker", () => {
  it("draws every value below n, and only those, about equally often", () => {
    const pick = randomPicker();
    // 62: the largest alphabet a dummy draws from; 256 % 62 != 0, so rejection matters.
    const n = 62;
    const draws = 62_000;
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < draws; i++) {
      const value = pick(n);
      expect(Number.isInteger(value) && value >= 0 && value < n).toBe(true);
      counts[value] = (counts[value] as number) + 1;
    }
    // Expected 1,000 each, σ ≈ 31: without the rejection, values below 8 would come ~1,210 times.
    for (const count of counts) expect(count).toBeGreaterThan(850);
    for (const count of counts) expect(count).toBeLessThan(1150);
  });

  it("covers the edges: one value, and all 256", () => {
    const pick = randomPicker();
    expect(pick(1)).toBe(0);
    const seen = new Set<number>();
    for (let i = 0; i < 20_000; i++) seen.add(pick(256));
    expect(seen.size).toBe(256);
  });

  it.each([0, -1, 257, 2.5, Number.NaN])("refuses to draw below %s", (n) => {
    expect(() => randomPicker()(n)).toThrow(RangeError);
  });
});
