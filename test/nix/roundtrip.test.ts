// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold literal Nix `${`
/**
 * Prints seeded random JSON data (heavy on hostile strings and keys) and a set of hand-written
 * function/let/inherit/select/application expressions into one Nix file, evaluates it once with
 * nix-instantiate, and checks Nix read back exactly what the AST said.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  apply,
  attrs,
  bind,
  formal,
  formals,
  ident,
  inherit,
  int,
  lambda,
  letIn,
  list,
  type NixExpr,
  path,
  select,
  str,
} from "../../src/generator/nix/ast.js";
import { fromJson } from "../../src/generator/nix/from-json.js";
import { printNix } from "../../src/generator/nix/print.js";
import { evalNixJson, nixUnavailable } from "../support/nix-eval.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(0x5eed);
const below = (n: number) => Math.floor(random() * n);
const pick = <T>(xs: readonly T[]): T => xs[below(xs.length)] as T;

// Pieces that stress every escaping rule of both string forms and the indentation stripping.
const STRING_PIECES = [
  '"',
  "\\",
  "${",
  "$${",
  "$$${",
  "$",
  "{",
  "}",
  "''",
  "'''",
  "''''",
  "'",
  "'${",
  "''${",
  "''\\",
  "\\${",
  "${x}",
  "\n",
  "\n",
  "\n",
  "\r",
  "\r\n",
  "\t",
  " ",
  "  ",
  "    ",
  "é",
  "日本語",
  "😀",
  "𝄞",
  "\u0001",
  "\u001f",
  "\u007f",
  "\u2028",
  "\ufeff",
  "#",
  "/*",
  "*/",
  ";",
  "=",
  "x",
  "abc",
  "or",
  "inherit",
  "-1",
  "0.5",
  "\\n",
  "\\t",
  "$\\",
  "''\\n",
];
const KEYS = [
  "if",
  "then",
  "else",
  "assert",
  "with",
  "let",
  "in",
  "rec",
  "inherit",
  "or",
  "__curPos",
  "true",
  "null",
  "",
  "a.b",
  "a.b.c",
  ".",
  "a b",
  " ",
  "a-b",
  "-a",
  "1a",
  "123",
  "0",
  "a'",
  "'a",
  "_",
  "__proto__",
  "constructor",
  "${x}",
  "$${x}",
  'q"q',
  "back\\slash",
  "new\nline",
  "tab\t",
  "cr\r",
  "é",
  "😀",
  "or.and",
];

function randomString(): string {
  let s = "";
  for (let n = below(12); n > 0; n--) s += pick(STRING_PIECES);
  if (random() < 0.2) s = `\n${s}`;
  if (random() < 0.3) s += "\n";
  return s;
}

/** Multi-line text shaped like scripts: mostly printed as indented strings. */
function multiLineString(): string {
  const lines: string[] = [];
  for (let n = 2 + below(6); n > 0; n--) {
    const indent = random() < 0.3 ? " ".repeat(below(5)) : "";
    lines.push(
      random() < 0.15 ? "" : indent + randomString().replaceAll("\n", "").replaceAll("\r", ""),
    );
  }
  if (!lines.some((l) => l !== "" && !l.startsWith(" "))) lines.push("end");
  return lines.join("\n") + (random() < 0.6 ? "\n" : "");
}

function randomInt(): number {
  const n = pick([
    0,
    1,
    2 ** 31,
    2 ** 32 + 1,
    Number.MAX_SAFE_INTEGER,
    below(1000),
    below(2 ** 40),
  ]);
  return random() < 0.5 && n !== 0 ? -n : n;
}

function randomKey(): string {
  return random() < 0.6 ? pick(KEYS) : randomString();
}

function randomValue(depth: number): Json {
  const roll = random();
  if (depth > 3 || roll < 0.35) return random() < 0.8 ? randomString() : multiLineString();
  if (roll < 0.5) return randomInt();
  if (roll < 0.55) return pick([null, true, false]);
  if (roll < 0.75) return Array.from({ length: below(5) }, () => randomValue(depth + 1));
  const o: { [key: string]: Json } = {};
  for (let n = below(6); n > 0; n--) {
    // defineProperty, so `__proto__` becomes an ordinary key as JSON.parse makes it.
    Object.defineProperty(o, randomKey(), {
      value: randomValue(depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return o;
}

const values: Json[] = Array.from({ length: 1200 }, (_, i) =>
  i % 4 === 0 ? multiLineString() : randomValue(0),
);

const extremeInts = [2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n, 2n ** 62n, -(2n ** 53n) - 1n];

const builtin = (name: string) => select(ident("builtins"), [name]);
const longName = (name: string) => name.padEnd(45, "_");
const long = (name: string) => ident(longName(name));

/** Expressions beyond plain data, each with the JSON Nix must give for it. */
const checks: [string, NixExpr, unknown][] = [
  ["identity", apply(lambda("x", ident("x")), int(-5)), -5],
  [
    "curried",
    apply(lambda("x", lambda("y", list([ident("y"), ident("x")]))), int(1), int(2)),
    [2, 1],
  ],
  [
    "three parameters",
    apply(
      lambda("a", lambda("b", lambda("c", apply(builtin("sub"), ident("a"), ident("c"))))),
      int(9),
      int(0),
      int(4),
    ),
    5,
  ],
  [
    "formals with defaults, ellipsis and @-pattern",
    apply(
      lambda(
        formals(["a", formal("b", int(-2)), formal("c", attrs([bind("d", int(4))]))], {
          ellipsis: true,
          as: "args",
        }),
        list([ident("a"), ident("b"), select(ident("c"), ["d"]), select(ident("args"), ["e"])]),
      ),
      attrs([bind("a", int(1)), bind("e", str("extra"))]),
    ),
    [1, -2, 4, "extra"],
  ],
  ["empty formals", apply(lambda(formals([]), str("ok")), attrs([])), "ok"],
  [
    "let with inherit and inherit-from of awkward names",
    letIn(
      [
        bind("src", fromJson({ "a b": 1, or: 2, "x.y": 3 })),
        inherit(["a b", "or", "x.y"], { from: ident("src") }),
        bind("plain", int(4)),
      ],
      attrs([inherit(["plain", "a b", "or", "x.y"])]),
    ),
    { plain: 4, "a b": 1, or: 2, "x.y": 3 },
  ],
  [
    "select with quoted path and or-defaults",
    letIn(
      [bind("s", fromJson({ "a.b": { "": { or: "deep" } }, n: -1 }))],
      list([
        select(ident("s"), ["a.b", "", "or"]),
        select(ident("s"), ["a", "b"], int(-7)),
        select(ident("s"), ["missing"], apply(builtin("add"), int(1), int(2))),
        select(select(ident("s"), ["missing"], ident("s")), ["n"]),
      ]),
    ),
    ["deep", -7, 3, -1],
  ],
  [
    "applications with negative, applied and lambda arguments",
    list([
      apply(ident("toString"), apply(builtin("sub"), int(-9223372036854775807n), int(1))),
      apply(
        builtin("map"),
        lambda("x", apply(builtin("mul"), ident("x"), int(-1))),
        fromJson([1, -2, 3]),
      ),
      apply(
        builtin("foldl'"),
        builtin("add"),
        int(0),
        list([int(-1), apply(builtin("add"), int(2), int(3))]),
      ),
    ]),
    ["-9223372036854775808", [-1, 2, -3], 4],
  ],
  [
    "long applications that must break",
    letIn(
      [
        bind(
          longName("f"),
          lambda("a", lambda("b", lambda("c", list([ident("c"), ident("b"), ident("a")])))),
        ),
        bind(longName("x"), int(1)),
        bind(longName("y"), int(2)),
        bind(longName("z"), int(3)),
      ],
      list([
        apply(long("f"), long("x"), long("y"), long("z")),
        apply(long("f"), long("x"), long("y"), attrs([bind("k", long("z")), bind("l", int(-1))])),
        apply(
          long("f"),
          letIn([], long("x")),
          long("y"),
          apply(lambda("q", ident("q")), long("z")),
        ),
      ]),
    ),
    [
      [3, 2, 1],
      [{ k: 3, l: -1 }, 2, 1],
      [3, 2, 1],
    ],
  ],
  [
    "a function with many formals applied in place",
    apply(
      lambda(
        formals(
          [
            formal(longName("first"), int(1)),
            formal(longName("second"), list([int(2), int(-2)])),
            "third",
          ],
          {
            ellipsis: true,
          },
        ),
        attrs([
          bind("sum", apply(builtin("add"), long("first"), ident("third"))),
          bind("l", long("second")),
        ]),
      ),
      attrs([bind("third", int(10)), bind("unused", str("x"))]),
    ),
    { sum: 11, l: [2, -2] },
  ],
  [
    "paths",
    list([
      apply(builtin("baseNameOf"), apply(ident("toString"), path("./some-file.nix"))),
      apply(ident("toString"), path("/abs/dir/x+y")),
      apply(builtin("isPath"), path("../up")),
      apply(builtin("isFunction"), lambda("_", select(path("./p.nix"), ["attr"]))),
    ]),
    ["some-file.nix", "/abs/dir/x+y", true, true],
  ],
];

const program = attrs([
  bind("values", fromJson(values)),
  bind("bigInts", apply(ident("map"), ident("toString"), list(extremeInts.map(int)))),
  bind("checks", list(checks.map(([, expr]) => expr))),
  bind("here", apply(ident("toString"), path("./."))),
]);

interface Result {
  values: unknown;
  bigInts: string[];
  checks: unknown[];
  here: string;
}

if (nixUnavailable !== undefined) {
  it.skip(`round trip through Nix skipped: ${nixUnavailable}`, () => {});
} else {
  describe("printed Nix evaluates back to the AST's value", () => {
    let result: Result;
    let dir: string;

    beforeAll(() => {
      const evaluated = evalNixJson(printNix(program, { header: "round-trip test input" }));
      result = JSON.parse(evaluated.json) as Result;
      dir = evaluated.dir;
    });

    it("returns every generated value unchanged", () => {
      expect(result.values).toEqual(values);
    });

    it("went through indented strings for most multi-line values", () => {
      const multiLine = values.filter(
        (v): v is string => typeof v === "string" && v.includes("\n"),
      );
      const indented = multiLine.filter((v) => printNix(str(v)).startsWith("''"));
      expect(indented.length).toBeGreaterThan(multiLine.length / 2);
      expect(indented.length).toBeGreaterThan(250);
    });

    it("keeps integers at the ends of the 64-bit range", () => {
      expect(result.bigInts).toEqual(extremeInts.map(String));
    });

    it("resolves relative paths against the file's directory", () => {
      expect(result.here).toBe(dir);
    });

    it.each(checks.map(([name, , expected], i) => [name, i, expected] as const))(
      "%s",
      (_, i, expected) => {
        expect(result.checks[i]).toEqual(expected);
      },
    );
  });
}
