import { describe, expect, it } from "vitest";
import { attrs, bind, bool, int, list, nixNull, str } from "../../../src/generator/nix/ast.js";
import { fromJson } from "../../../src/generator/nix/from-json.js";

describe("fromJson", () => {
  it("maps JSON data to the AST, keeping key order", () => {
    expect(fromJson({ b: [1, "x", null], a: { t: true, f: false }, n: -3 })).toEqual(
      attrs([
        bind("b", list([int(1), str("x"), nixNull])),
        bind("a", attrs([bind("t", bool(true)), bind("f", bool(false))])),
        bind("n", int(-3)),
      ]),
    );
  });

  it("accepts objects without a prototype and any string as a key", () => {
    const o = Object.create(null) as Record<string, unknown>;
    o["a.b"] = 1;
    o[""] = 2;
    expect(fromJson(o)).toEqual(attrs([bind("a.b", int(1)), bind("", int(2))]));
  });

  it("accepts the same object twice when it is not a cycle", () => {
    const shared = { x: 1 };
    expect(fromJson([shared, shared])).toEqual(
      list([attrs([bind("x", int(1))]), attrs([bind("x", int(1))])]),
    );
  });

  it.each([
    [1.5, /\$ is 1\.5; only safe integers/],
    [Number.NaN, /\$ is NaN/],
    [Number.POSITIVE_INFINITY, /\$ is Infinity/],
    [2 ** 53, /\$ is 9007199254740992; only safe integers/],
    [undefined, /\$ is undefined, which is not JSON data/],
    [() => 1, /\$ is a function/],
    [Symbol("s"), /\$ is a symbol/],
    [10n, /\$ is a bigint/],
    [new Date(0), /\$ is an instance of Date, not a plain object/],
    [new Map(), /\$ is an instance of Map/],
    ["nul\0", /\$ contains NUL/],
    ["\uD83D", /\$ contains an unpaired UTF-16 surrogate/],
  ])("refuses %s", (value, message) => {
    expect(() => fromJson(value)).toThrow(message);
  });

  it("says where the offending value sits", () => {
    expect(() => fromJson({ env: { A: "ok", B: undefined } })).toThrow(
      '$["env"]["B"] is undefined',
    );
    expect(() => fromJson({ list: [1, [2, 0.5]] })).toThrow('$["list"][1][1] is 0.5');
    expect(() => fromJson({ "k\0": 1 })).toThrow('key $["k\\u0000"] contains NUL');
  });

  it("refuses holes, symbol keys and cycles", () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is being tested
    expect(() => fromJson([1, , 3])).toThrow("$[1] is a hole in a sparse array");
    expect(() => fromJson({ [Symbol("k")]: 1 })).toThrow("$ has symbol keys");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => fromJson(cyclic)).toThrow('$["self"] refers back to an enclosing value');
  });
});
