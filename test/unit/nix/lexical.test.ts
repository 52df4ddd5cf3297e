// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold literal Nix `${`
import { describe, expect, it } from "vitest";
import {
  assertPath,
  attrName,
  indentedStringLines,
  isIdentifier,
  quoteString,
  stringContentProblem,
} from "../../../src/generator/nix/lexical.js";

describe("identifiers", () => {
  it("accepts Nix identifier syntax", () => {
    for (const name of [
      "a",
      "_",
      "_a1",
      "a-b",
      "a'",
      "foldl'",
      "A_b-C'd",
      "true",
      "null",
      "__proto__",
    ]) {
      expect(isIdentifier(name), name).toBe(true);
    }
  });

  it("refuses keywords, __curPos and non-identifiers", () => {
    const refused = ["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"];
    for (const name of [...refused, "__curPos", "", "1a", "-a", "'a", "a.b", "a b", "é", "a$"]) {
      expect(isIdentifier(name), name).toBe(false);
    }
  });

  it("quotes attribute names that are not identifiers, never splitting on dots", () => {
    expect(attrName("plain")).toBe("plain");
    expect(attrName("a.b")).toBe('"a.b"');
    expect(attrName("or")).toBe('"or"');
    expect(attrName("")).toBe('""');
    expect(attrName("1a")).toBe('"1a"');
    expect(attrName("${x}")).toBe('"\\${x}"');
  });
});

describe("quoteString", () => {
  it.each([
    ["plain", '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["back\\slash", '"back\\\\slash"'],
    ["${x}", '"\\${x}"'],
    ["$${x}", '"$\\${x}"'],
    ["$$${x}", '"$$\\${x}"'],
    ["cost $5 and $", '"cost $5 and $"'],
    ["{$}", '"{$}"'],
    ["a\nb\rc\td", '"a\\nb\\rc\\td"'],
    ["\u0001\u007f é 😀", '"\u0001\u007f é 😀"'],
    ["''", "\"''\""],
  ])("%j", (value, expected) => {
    expect(quoteString(value)).toBe(expected);
  });
});

describe("indentedStringLines", () => {
  it("escapes '' as ''', ${ as ''${, and a lone ' that would touch quotes as ''\\'", () => {
    expect(indentedStringLines("a''b\n")).toEqual(["a'''b", ""]);
    expect(indentedStringLines("${x}\n")).toEqual(["''${x}", ""]);
    expect(indentedStringLines("$${x}\n")).toEqual(["$''${x}", ""]);
    expect(indentedStringLines("'${x}\n")).toEqual(["''\\'''${x}", ""]);
    expect(indentedStringLines("'''\nend'")).toEqual(["''''", "end''\\'"]);
    expect(indentedStringLines("it's\nfine'\n")).toEqual(["it's", "fine'", ""]);
    expect(indentedStringLines("$\n\\n\n")).toEqual(["$", "\\n", ""]);
  });

  it("keeps inner indentation, tabs and blank lines", () => {
    expect(indentedStringLines("a\n  b\n\n\tc")).toEqual(["a", "  b", "", "\tc"]);
    expect(indentedStringLines("\nfirst line empty\n")).toEqual(["", "first line empty", ""]);
    expect(indentedStringLines("   \nx\n")).toEqual(["   ", "x", ""]);
  });

  it("declines what the indented form cannot carry exactly or gains nothing from", () => {
    expect(indentedStringLines("one line")).toBeUndefined();
    expect(indentedStringLines("cr\r\nlf\n")).toBeUndefined();
    expect(indentedStringLines("  common\n  indentation\n")).toBeUndefined();
    expect(indentedStringLines("\n  only indented\n")).toBeUndefined();
    expect(indentedStringLines("last line\n   ")).toBeUndefined();
    expect(indentedStringLines("\n\n \t\n")).toBeUndefined();
  });
});

describe("paths", () => {
  it("accepts absolute and explicitly relative literals", () => {
    for (const p of ["/abs", "/a/b.nix", "./foo.nix", "./.", "../x", "../..", "./a+b-c_d.e"]) {
      expect(() => assertPath(p), p).not.toThrow();
    }
  });

  it("refuses what Nix would not read as that path", () => {
    for (const p of [
      "/",
      "foo.nix",
      "./a/",
      "./a b",
      "./a//b",
      "~/x",
      "<nixpkgs>",
      "./é",
      "./${x}",
      "",
    ]) {
      expect(() => assertPath(p), p).toThrow(/not a Nix path literal/);
    }
  });
});

describe("stringContentProblem", () => {
  it("names NUL and unpaired surrogates, accepts astral characters", () => {
    expect(stringContentProblem("a\0b")).toMatch(/NUL/);
    expect(stringContentProblem("\uD800")).toMatch(/surrogate/);
    expect(stringContentProblem("x\uDC00")).toMatch(/surrogate/);
    expect(stringContentProblem("😀 𝄞")).toBeUndefined();
  });
});
