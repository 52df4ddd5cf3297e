// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold literal Nix `${`
import { describe, expect, it } from "vitest";
import {
  apply,
  attrs,
  bind,
  bool,
  formal,
  formals,
  ident,
  inherit,
  int,
  item,
  lambda,
  letIn,
  list,
  type NixExpr,
  nixNull,
  path,
  select,
  str,
} from "../../../src/generator/nix/ast.js";
import { printNix } from "../../../src/generator/nix/print.js";

const lines = (...ls: string[]) => `${ls.join("\n")}\n`;
const a = ident("a");
const b = ident("b");
const f = ident("f");

describe("atoms", () => {
  it.each<[string, NixExpr]>([
    ["null", nixNull],
    ["true", bool(true)],
    ["false", bool(false)],
    ["0", int(0)],
    ["-5", int(-5)],
    ["9223372036854775807", int(9223372036854775807n)],
    ["(-9223372036854775807 - 1)", int(-9223372036854775808n)],
    ["./foo.nix", path("./foo.nix")],
    ["/abs/x", path("/abs/x")],
    ["pkgs", ident("pkgs")],
    ['"x"', str("x")],
  ])("%s", (text, expr) => {
    expect(printNix(expr)).toBe(`${text}\n`);
  });

  it("ends the output with exactly one newline", () => {
    expect(printNix(str("a\nb\n"))).toMatch(/[^\n]\n$/);
  });
});

describe("strings", () => {
  it("escapes normal strings", () => {
    expect(printNix(str('"\\${}$${}$\n\r\t'))).toBe('"\\"\\\\\\${}$\\${}$\\n\\r\\t"\n');
  });

  it("prints multi-line strings as indented strings", () => {
    expect(printNix(str("line 1\n  line 2\n\nline 4\n"))).toBe(
      lines("''", "  line 1", "    line 2", "", "  line 4", "''"),
    );
    expect(printNix(str("no final newline\nend"))).toBe(
      lines("''", "  no final newline", "  end''"),
    );
  });

  it("indents block strings with their binding and escapes inside them", () => {
    expect(printNix(attrs([bind("script", str("echo ${HOME}\nsay ''hi''\n$${x} '${y}\n"))]))).toBe(
      lines(
        "{",
        "  script = ''",
        "    echo ''${HOME}",
        "    say '''hi'''",
        "    $''${x} ''\\'''${y}",
        "  '';",
        "}",
      ),
    );
    expect(printNix(list([str("a\nb'"), str("c\n")]))).toBe(
      lines("[", "  ''", "    a", "    b''\\'''", "  ''", "    c", "  ''", "]"),
    );
  });

  it("falls back to a normal string when the indented form would change the value", () => {
    expect(printNix(str("  common\n  indent\n"))).toBe('"  common\\n  indent\\n"\n');
    expect(printNix(str("crlf\r\nline\n"))).toBe('"crlf\\r\\nline\\n"\n');
    expect(printNix(str("a\n  "))).toBe('"a\\n  "\n');
    expect(printNix(str("\n\n"))).toBe('"\\n\\n"\n');
  });
});

describe("lists", () => {
  it("prints empty, single and multiple items", () => {
    expect(printNix(list([]))).toBe("[ ]\n");
    expect(printNix(list([str("x")]))).toBe('[ "x" ]\n');
    expect(printNix(list([int(1), int(2)]))).toBe(lines("[", "  1", "  2", "]"));
    expect(printNix(list([list([int(1)]), list([])]))).toBe(lines("[", "  [ 1 ]", "  [ ]", "]"));
  });

  it("parenthesises items that are not simple terms", () => {
    expect(printNix(list([int(-5), apply(f, a), lambda("x", ident("x")), letIn([], a)]))).toBe(
      lines("[", "  (-5)", "  (f a)", "  (x: x)", "  (", "    let", "    in", "    a", "  )", "]"),
    );
    expect(printNix(list([int(-1)]))).toBe("[ (-1) ]\n");
    expect(printNix(list([select(a, ["b"], int(1))]))).toBe("[ (a.b or 1) ]\n");
  });

  it("puts comments above items, one # line per comment line", () => {
    expect(printNix(list([item(str("x"), "why x\n\nmore  "), str("y")]))).toBe(
      lines("[", "  # why x", "  #", "  # more", '  "x"', '  "y"', "]"),
    );
    expect(printNix(list([item(int(1), "only")]))).toBe(lines("[", "  # only", "  1", "]"));
  });

  it("breaks a single item that does not fit on one line", () => {
    const long = str("x".repeat(100));
    expect(printNix(list([long]))).toBe(lines("[", `  "${"x".repeat(100)}"`, "]"));
  });
});

describe("attribute sets", () => {
  it("prints empty, single and multiple bindings", () => {
    expect(printNix(attrs([]))).toBe("{ }\n");
    expect(printNix(attrs([bind("a", int(1))]))).toBe("{ a = 1; }\n");
    expect(printNix(attrs([bind("a", int(1)), bind("b", str("x"))]))).toBe(
      lines("{", "  a = 1;", '  b = "x";', "}"),
    );
  });

  it("always expands a non-empty set bound to a name, except a lone inherit", () => {
    expect(printNix(attrs([bind("x", attrs([bind("y", int(1))])), bind("e", attrs([]))]))).toBe(
      lines("{", "  x = {", "    y = 1;", "  };", "  e = { };", "}"),
    );
    expect(printNix(attrs([bind("x", attrs([inherit(["y"])]))]))).toBe("{ x = { inherit y; }; }\n");
  });

  it("quotes names that are not identifiers and never turns a dot into a path", () => {
    const names = [
      "if",
      "or",
      "inherit",
      "__curPos",
      "",
      "a.b",
      "a b",
      "1a",
      "-x",
      "${x}",
      'q"',
      "é",
    ];
    const printed = printNix(attrs(names.map((n) => bind(n, int(0)))));
    expect(printed).toBe(
      lines(
        "{",
        '  "if" = 0;',
        '  "or" = 0;',
        '  "inherit" = 0;',
        '  "__curPos" = 0;',
        '  "" = 0;',
        '  "a.b" = 0;',
        '  "a b" = 0;',
        '  "1a" = 0;',
        '  "-x" = 0;',
        '  "\\${x}" = 0;',
        '  "q\\"" = 0;',
        '  "é" = 0;',
        "}",
      ),
    );
    expect(printNix(attrs([bind("a-b", int(0)), bind("c'", int(0)), bind("true", int(0))]))).toBe(
      lines("{", "  a-b = 0;", "  c' = 0;", "  true = 0;", "}"),
    );
  });

  it("puts comments above bindings", () => {
    expect(
      printNix(
        attrs([bind("a", int(1), "first\nsecond"), inherit(["b"], { comment: "inherited" })]),
      ),
    ).toBe(lines("{", "  # first", "  # second", "  a = 1;", "  # inherited", "  inherit b;", "}"));
  });

  it("moves a value that does not fit after = onto the next line", () => {
    const long = select(ident("a".repeat(50)), ["b".repeat(50)]);
    expect(printNix(attrs([bind("key", long), bind("x", int(1))]))).toBe(
      lines("{", "  key =", `    ${"a".repeat(50)}.${"b".repeat(50)};`, "  x = 1;", "}"),
    );
  });
});

describe("inherit", () => {
  it("keeps up to three names on one line and expands four or more", () => {
    expect(
      printNix(attrs([inherit(["a", "b", "c"]), inherit(["d"], { from: ident("pkgs") })])),
    ).toBe(lines("{", "  inherit a b c;", "  inherit (pkgs) d;", "}"));
    expect(
      printNix(attrs([inherit(["a", "b", "c", "d"], { from: select(ident("pkgs"), ["lib"]) })])),
    ).toBe(lines("{", "  inherit (pkgs.lib)", "    a", "    b", "    c", "    d", "    ;", "}"));
  });

  it("quotes names that are not identifiers", () => {
    expect(printNix(attrs([inherit(["or", "a b"], { from: ident("x") })]))).toBe(
      '{ inherit (x) "or" "a b"; }\n',
    );
  });
});

describe("let", () => {
  it("is always expanded, with the body at the let's indentation", () => {
    expect(
      printNix(letIn([bind("x", int(1)), inherit(["y"], { from: ident("z") })], ident("x"))),
    ).toBe(lines("let", "  x = 1;", "  inherit (z) y;", "in", "x"));
    expect(printNix(attrs([bind("v", letIn([bind("x", int(1))], ident("x")))]))).toBe(
      lines("{", "  v =", "    let", "      x = 1;", "    in", "    x;", "}"),
    );
  });
});

describe("functions", () => {
  it("prints parameter chains on one line", () => {
    expect(printNix(lambda("x", ident("x")))).toBe("x: x\n");
    expect(printNix(lambda("x", lambda("y", list([ident("x"), ident("y")]))))).toBe(
      lines("x: y: [", "  x", "  y", "]"),
    );
    expect(printNix(lambda("x", lambda("y", lambda("z", ident("x")))))).toBe(
      lines("x: y: z:", "x"),
    );
  });

  it("prints small formals on one line and others expanded with trailing commas", () => {
    expect(printNix(lambda(formals(["lib", "pkgs"]), ident("lib")))).toBe("{ lib, pkgs }: lib\n");
    expect(printNix(lambda(formals([], { ellipsis: true }), nixNull))).toBe("{ ... }: null\n");
    expect(printNix(lambda(formals([]), nixNull))).toBe("{ }: null\n");
    expect(printNix(lambda(formals(["a"], { ellipsis: true, as: "args" }), ident("args")))).toBe(
      "args@{ a, ... }: args\n",
    );
    expect(
      printNix(lambda(formals(["a", formal("b", int(-1))], { ellipsis: true, as: "args" }), a)),
    ).toBe(lines("args@{", "  a,", "  b ? -1,", "  ...", "}:", "a"));
    expect(printNix(lambda(formals(["a", "b", "c"]), a))).toBe(
      lines("{", "  a,", "  b,", "  c,", "}:", "a"),
    );
  });

  it("starts a set body on the next line after formals, and expands it", () => {
    expect(printNix(lambda(formals(["lib"]), attrs([bind("x", int(1))])))).toBe(
      lines("{ lib }:", "{", "  x = 1;", "}"),
    );
  });

  it("binds functions the way nixfmt does", () => {
    const set = attrs([bind("x", int(1)), bind("y", int(2))]);
    expect(
      printNix(
        attrs([
          bind("f", lambda("x", set)),
          bind("g", lambda(formals(["a"], { ellipsis: true }), set)),
          bind("h", lambda(formals(["a"]), list([int(1)]))),
        ]),
      ),
    ).toBe(
      lines(
        "{",
        "  f = x: {",
        "    x = 1;",
        "    y = 2;",
        "  };",
        "  g =",
        "    { a, ... }:",
        "    {",
        "      x = 1;",
        "      y = 2;",
        "    };",
        "  h = { a }: [ 1 ];",
        "}",
      ),
    );
  });

  it("expands defaults that are sets", () => {
    expect(
      printNix(lambda(formals([formal("cfg", attrs([bind("a", int(1))]))]), ident("cfg"))),
    ).toBe(lines("{", "  cfg ? {", "    a = 1;", "  },", "}:", "cfg"));
  });
});

describe("application", () => {
  it("prints arguments on one line, parenthesising those that need it", () => {
    expect(printNix(apply(f, a, int(1), str("s"), path("./p")))).toBe('f a 1 "s" ./p\n');
    expect(printNix(apply(f, int(-1), apply(ident("g"), a), lambda("x", ident("x"))))).toBe(
      "f (-1) (g a) (x: x)\n",
    );
    expect(printNix(apply(apply(f, a), b))).toBe("f a b\n");
    expect(printNix(apply(lambda("x", ident("x")), int(1)))).toBe("(x: x) 1\n");
    expect(printNix(apply(select(ident("builtins"), ["map"]), f, list([])))).toBe(
      "builtins.map f [ ]\n",
    );
  });

  it("keeps a small set argument on one line", () => {
    expect(printNix(apply(f, attrs([bind("a", int(1))])))).toBe("f { a = 1; }\n");
  });

  it("absorbs a last argument that is a set, list or block string", () => {
    const set = attrs([bind("x", int(1)), bind("y", int(2))]);
    expect(printNix(apply(ident("import"), path("./agent.nix"), set))).toBe(
      lines("import ./agent.nix {", "  x = 1;", "  y = 2;", "}"),
    );
    expect(
      printNix(attrs([bind("drv", apply(ident("writeText"), str("name"), str("a\nb\n")))])),
    ).toBe(lines("{", "  drv = writeText \"name\" ''", "    a", "    b", "  '';", "}"));
  });

  it("puts arguments on their own lines when they do not fit", () => {
    const long = (c: string) => ident(c.repeat(40));
    expect(printNix(apply(f, long("a"), long("b"), long("c")))).toBe(
      lines(`f ${"a".repeat(40)} ${"b".repeat(40)}`, `  ${"c".repeat(40)}`),
    );
    expect(printNix(list([apply(f, long("a"), long("b"), long("c"))]))).toBe(
      lines(
        "[",
        "  (",
        `    f ${"a".repeat(40)} ${"b".repeat(40)}`,
        `      ${"c".repeat(40)}`,
        "  )",
        "]",
      ),
    );
  });
});

describe("selection", () => {
  it("quotes path elements that are not identifiers", () => {
    expect(printNix(select(ident("x"), ["a", "c d", "or", "1"]))).toBe('x.a."c d"."or"."1"\n');
  });

  it("prints or-defaults, parenthesised where they are not simple", () => {
    expect(printNix(select(ident("x"), ["a"], int(1)))).toBe("x.a or 1\n");
    expect(printNix(select(ident("x"), ["a"], int(-1)))).toBe("x.a or (-1)\n");
    expect(printNix(select(ident("x"), ["a"], apply(f, a)))).toBe("x.a or (f a)\n");
  });

  it("parenthesises targets that would lex or parse differently", () => {
    expect(printNix(select(int(5), ["a"]))).toBe("(5).a\n");
    expect(printNix(select(path("./p.nix"), ["a"]))).toBe("(./p.nix).a\n");
    expect(printNix(select(select(ident("x"), ["a"], ident("y")), ["b"]))).toBe("(x.a or y).b\n");
    expect(printNix(select(select(ident("x"), ["a"]), ["b"]))).toBe("x.a.b\n");
    expect(printNix(select(apply(f, a), ["b"]))).toBe("(f a).b\n");
    expect(printNix(select(attrs([bind("b", int(1))]), ["b"]))).toBe("{ b = 1; }.b\n");
  });
});

describe("header comment", () => {
  it("goes above the expression", () => {
    expect(
      printNix(attrs([bind("a", int(1)), bind("b", int(2))]), {
        header: "Generated.\nDo not edit.",
      }),
    ).toBe(lines("# Generated.", "# Do not edit.", "{", "  a = 1;", "  b = 2;", "}"));
  });
});

describe("invalid ASTs", () => {
  it.each<[string, () => unknown, RegExp]>([
    ["keyword variable", () => ident("let"), /variable "let" is not a Nix identifier/],
    ["or as variable", () => ident("or"), /not a Nix identifier/],
    ["bad path", () => path("foo/"), /path "foo\/" is not a Nix path literal/],
    ["int above int64", () => int(2n ** 63n), /outside Nix's 64-bit integer range/],
    ["float", () => int(1.5), /not a safe integer/],
    ["unsafe number", () => int(2 ** 60), /not a safe integer/],
    ["NUL string", () => str("a\0"), /string "a\\u0000" contains NUL/],
  ])("the constructor refuses a %s", (_, run, message) => {
    expect(run).toThrow(message);
  });

  const node = (n: unknown) => n as NixExpr;
  it.each<[string, NixExpr, RegExp, string?]>([
    [
      "keyword variable",
      node({ kind: "ident", name: "in" }),
      /variable "in" is not a Nix identifier/,
    ],
    ["bad path", node({ kind: "path", path: "./a/" }), /is not a Nix path literal/],
    [
      "int below int64",
      node({ kind: "int", value: -(2n ** 63n) - 1n }),
      /outside Nix's 64-bit integer range/,
    ],
    ["NUL string", node({ kind: "string", value: "\0" }), /contains NUL/],
    ["lone surrogate key", attrs([bind("\uDFFF", nixNull)]), /unpaired UTF-16 surrogate/],
    ["duplicate attribute", attrs([bind("a", nixNull), inherit(["a"])]), /"a" is defined twice/],
    ["duplicate let binding", letIn([bind("a", nixNull), bind("a", nixNull)], a), /defined twice/],
    ["empty inherit", attrs([inherit([])]), /inherit without names/],
    ["bad formal", lambda(formals(["a b"]), nixNull), /formal argument "a b"/],
    ["duplicate formal", lambda(formals(["a", "a"]), nixNull), /"a" appears twice/],
    ["@-name clash", lambda(formals(["a"], { as: "a" }), nixNull), /also a formal argument/],
    ["bad parameter", lambda("in", nixNull), /function parameter "in"/],
    ["CR in a comment", list([item(nixNull, "a\rb")]), /contains CR/],
    ["CR in the header", nixNull, /contains CR/, "x\r"],
    ["unknown node", node({ kind: "float", value: 1.5 }), /unknown Nix AST node kind float/],
  ])("printNix refuses a %s", (_, expr, message, header) => {
    expect(() => printNix(expr, header === undefined ? {} : { header })).toThrow(message);
  });
});
