import type { LookupAddress } from "node:dns";
import { describe, expect, test } from "vitest";
import {
  createRouter,
  RefusedAddressError,
  type Resolve,
  screenAnswers,
} from "../../../src/proxy/dial.js";

describe("screenAnswers", () => {
  test("keeps public answers, refuses the rest with their range", () => {
    const result = screenAnswers(
      [
        { address: "127.0.0.1", family: 4 },
        { address: "93.184.215.14", family: 4 },
        { address: "::ffff:169.254.169.254", family: 6 },
      ],
      443,
      new Map(),
    );
    expect(result.usable).toEqual([{ address: "93.184.215.14", family: 4 }]);
    expect(result.refused).toEqual([
      { address: "127.0.0.1", range: "loopback" },
      { address: "::ffff:169.254.169.254", range: "metadata" },
    ]);
  });

  test("an address a rule names is usable, on the ports that rule covers", () => {
    const named = new Map([["10.0.0.5", new Set([8080])]]);
    expect(screenAnswers([{ address: "10.0.0.5", family: 4 }], 8080, named).refused).toEqual([]);
    expect(screenAnswers([{ address: "10.0.0.5", family: 4 }], 80, named).refused).toHaveLength(1);
  });
});

describe("createRouter", () => {
  const resolve: Resolve = async (host) =>
    ({
      "mixed.test": [
        { address: "127.0.0.1", family: 4 as const },
        { address: "93.184.215.14", family: 4 as const },
      ],
      "internal.test": [{ address: "169.254.169.254", family: 4 as const }],
      "empty.test": [],
    })[host] ?? [];

  const lookup = (route: ReturnType<ReturnType<typeof createRouter>>, host: string, all: boolean) =>
    new Promise<{ error: NodeJS.ErrnoException | null; result: string | LookupAddress[] }>((done) =>
      route.lookup(host, { all }, (error, result) => done({ error, result })),
    );

  const router = createRouter({
    resolve,
    namedAddresses: new Map([["10.0.0.7", new Set([80])]]),
    upstreams: { "mapped.test": { address: "127.0.0.1", port: 9999 } },
  });

  test("net.connect only ever gets checked addresses, in both lookup modes", async () => {
    const route = router("mixed.test", 443);
    expect(await lookup(route, "mixed.test", true)).toEqual({
      error: null,
      result: [{ address: "93.184.215.14", family: 4 }],
    });
    expect((await lookup(route, "mixed.test", false)).result).toBe("93.184.215.14");
  });

  test("a name with only refused answers fails the connection with RefusedAddressError", async () => {
    const { error } = await lookup(router("internal.test", 443), "internal.test", true);
    expect(error).toBeInstanceOf(RefusedAddressError);
    expect((error as RefusedAddressError).refused).toEqual([
      { address: "169.254.169.254", range: "metadata" },
    ]);
  });

  test("a name without answers is ENOTFOUND", async () => {
    const { error } = await lookup(router("empty.test", 443), "empty.test", true);
    expect(error?.code).toBe("ENOTFOUND");
  });

  test("IP literals are checked up front (net.connect never looks them up)", () => {
    expect(() => router("127.0.0.1", 80)).toThrow(RefusedAddressError);
    expect(() => router("::ffff:127.0.0.1", 80)).toThrow(RefusedAddressError);
    expect(router("10.0.0.7", 80).host).toBe("10.0.0.7");
    expect(() => router("10.0.0.7", 443)).toThrow(RefusedAddressError);
    expect(router("93.184.215.14", 80).port).toBe(80);
  });

  test("the test-only upstream map dials its address and port", async () => {
    const route = router("mapped.test", 443);
    expect(route.port).toBe(9999);
    expect((await lookup(route, "mapped.test", false)).result).toBe("127.0.0.1");
  });
});
