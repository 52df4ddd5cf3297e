/**
 * Nix AST -> source text in the layout nixfmt (RFC 166 style) gives the same constructs, so the
 * generated files are left unchanged by the formatter: two-space indentation, `{ }` and `[ ]`
 * when empty, lists and attribute sets with two or more entries one per line, attribute sets
 * bound to a name always expanded, `let` always expanded, formals on one line only for at most
 * two arguments without defaults, function arguments kept on the first line while they fit and
 * the last one absorbed (`f a {` … `}`), a 100-column budget that does not count indentation.
 * Overlong lines fall back to simpler rules than nixfmt's full layout engine; they stay valid.
 */
import type {
  NixApply,
  NixAttrs,
  NixBinding,
  NixExpr,
  NixFormals,
  NixInherit,
  NixLambda,
  NixLet,
  NixList,
  NixSelect,
} from "./ast.js";
import { attrName, INT64_MIN, indentedStringLines, quoteString } from "./lexical.js";
import { validateComment, validateNix } from "./validate.js";

const WIDTH = 100;

/**
 * Where an expression starts: the indentation of its line, the characters already on that line
 * after the indentation, and how many will follow it on its last line (`;`, `,`, `)`).
 */
interface At {
  readonly indent: number;
  readonly column: number;
  readonly tail: number;
}

export interface PrintOptions {
  /** Line comment at the top of the file; may span lines. */
  header?: string;
}

/** Deterministic Nix source for `expr`, ending in one newline. Throws on an invalid AST. */
export function printNix(expr: NixExpr, options: PrintOptions = {}): string {
  validateNix(expr);
  validateComment(options.header);
  return `${comment(options.header, 0)}${render(expr, { indent: 0, column: 0, tail: 0 })}\n`;
}

function render(e: NixExpr, at: At): string {
  const oneLine = flat(e);
  return oneLine !== undefined && fits(oneLine, at) ? oneLine : broken(e, at);
}

// ---- one-line forms (undefined: the construct never goes on one line) ----

function flat(e: NixExpr): string | undefined {
  switch (e.kind) {
    case "null":
      return "null";
    case "bool":
      return e.value ? "true" : "false";
    case "int":
      // -2^63 has no literal: the lexer reads the digits as a positive number first.
      return e.value === INT64_MIN ? `(${INT64_MIN + 1n} - 1)` : e.value.toString();
    case "string":
      return indentedStringLines(e.value) === undefined ? quoteString(e.value) : undefined;
    case "path":
      return e.path;
    case "ident":
      return e.name;
    case "list":
      return flatList(e);
    case "attrs":
      return flatAttrs(e);
    case "let":
      return undefined;
    case "lambda":
      return flatLambda(e);
    case "apply": {
      const { fn, args } = spine(e);
      return joinFlat([flatOperand(fn, "fn"), ...args.map((a) => flatOperand(a, "arg"))], " ");
    }
    case "select":
      return flatSelect(e);
  }
}

function flatList(e: NixList): string | undefined {
  const [only, ...more] = e.items;
  if (only === undefined) return "[ ]";
  if (more.length > 0 || only.comment !== undefined) return undefined;
  const inner = flatOperand(only.value, "item");
  return inner === undefined ? undefined : `[ ${inner} ]`;
}

function flatAttrs(e: NixAttrs): string | undefined {
  const [only, ...more] = e.bindings;
  if (only === undefined) return "{ }";
  if (more.length > 0) return undefined;
  const inner = flatBinding(only);
  return inner === undefined ? undefined : `{ ${inner} }`;
}

function flatBinding(b: NixBinding): string | undefined {
  if (b.comment !== undefined) return undefined;
  if (b.kind === "inherit") return flatInherit(b);
  const value = isExpandedAsValue(b.value) ? undefined : flat(b.value);
  return value === undefined ? undefined : `${attrName(b.name)} = ${value};`;
}

function flatInherit(b: NixInherit): string | undefined {
  if (b.names.length >= 4) return undefined;
  const from = b.from === undefined ? "" : flat(b.from);
  if (from === undefined) return undefined;
  const source = b.from === undefined ? "" : ` (${from})`;
  return `inherit${source} ${b.names.map(attrName).join(" ")};`;
}

function flatLambda(e: NixLambda): string | undefined {
  if (e.param.kind === "formals") {
    const params = flatFormals(e.param);
    const body = isNonEmptyAttrs(e.body) ? undefined : flat(e.body);
    return params === undefined || body === undefined ? undefined : `${params}: ${body}`;
  }
  const { names, body } = nameChain(e);
  // nixfmt breaks before a body that is not a set, list or block string after three parameters.
  if (names.length > 2 && !isAbsorbable(body)) return undefined;
  const flatBody = flat(body);
  return flatBody === undefined ? undefined : `${names.join(": ")}: ${flatBody}`;
}

function flatFormals(p: NixFormals): string | undefined {
  if (p.formals.length > 2 || p.formals.some((f) => f.default !== undefined)) return undefined;
  const entries = [...p.formals.map((f) => f.name), ...(p.ellipsis ? ["..."] : [])];
  const set = entries.length === 0 ? "{ }" : `{ ${entries.join(", ")} }`;
  return p.as === undefined ? set : `${p.as}@${set}`;
}

function flatSelect(e: NixSelect): string | undefined {
  const from = flatOperand(e.from, "target");
  const fallback = e.default === undefined ? "" : flatOperand(e.default, "default");
  if (from === undefined || fallback === undefined) return undefined;
  return `${from}.${e.path.map(attrName).join(".")}${e.default === undefined ? "" : ` or ${fallback}`}`;
}

// ---- multi-line forms ----

function broken(e: NixExpr, at: At): string {
  switch (e.kind) {
    case "string": {
      const lines = indentedStringLines(e.value);
      return lines === undefined ? quoteString(e.value) : indentedString(lines, at.indent);
    }
    case "list":
      return brokenList(e, at);
    case "attrs":
      return brokenAttrs(e, at);
    case "let":
      return brokenLet(e, at);
    case "lambda":
      return brokenLambda(e, at);
    case "apply":
      return absorbedApply(e, at) ?? expandedApply(e, at);
    case "select":
      return brokenSelect(e, at);
    default:
      // Atoms have no other form: they overflow the line rather than break.
      return flat(e) ?? "";
  }
}

function indentedString(lines: readonly string[], indent: number): string {
  const content = (line: string) => (line === "" ? "" : pad(indent + 2) + line);
  const last = lines[lines.length - 1];
  // After a final newline the closing '' goes on its own line; Nix drops that line's spaces.
  return last === ""
    ? `''\n${lines.slice(0, -1).map(content).join("\n")}\n${pad(indent)}''`
    : `''\n${lines.map(content).join("\n")}''`;
}

function brokenList(e: NixList, at: At): string {
  if (e.items.length === 0) return "[ ]";
  const inner: At = { indent: at.indent + 2, column: 0, tail: 0 };
  const items = e.items.map(
    (i) =>
      `${comment(i.comment, inner.indent)}${pad(inner.indent)}${operand(i.value, "item", inner)}`,
  );
  return `[\n${items.join("\n")}\n${pad(at.indent)}]`;
}

function brokenAttrs(e: NixAttrs, at: At): string {
  if (e.bindings.length === 0) return "{ }";
  const bindings = e.bindings.map((b) => binding(b, at.indent + 2));
  return `{\n${bindings.join("\n")}\n${pad(at.indent)}}`;
}

function brokenLet(e: NixLet, at: At): string {
  const bindings = e.bindings.map((b) => `${binding(b, at.indent + 2)}\n`).join("");
  const body = render(e.body, { indent: at.indent, column: 0, tail: at.tail });
  return `let\n${bindings}${pad(at.indent)}in\n${pad(at.indent)}${body}`;
}

function brokenLambda(e: NixLambda, at: At): string {
  const bodyAt: At = { indent: at.indent, column: 0, tail: at.tail };
  if (e.param.kind === "formals") {
    const params = formalsText(e.param, at);
    const body = isNonEmptyAttrs(e.body) ? brokenAttrs(e.body, bodyAt) : render(e.body, bodyAt);
    return `${params}:\n${pad(at.indent)}${body}`;
  }
  const { names, body } = nameChain(e);
  const head = `${names.join(": ")}:`;
  if (isAbsorbable(body)) {
    return `${head} ${render(body, { ...at, column: at.column + width(head) + 1 })}`;
  }
  return `${head}\n${pad(at.indent)}${render(body, bodyAt)}`;
}

function formalsText(p: NixFormals, at: At): string {
  const oneLine = flatFormals(p);
  if (oneLine !== undefined && fits(`${oneLine}:`, at)) return oneLine;
  const inner = at.indent + 2;
  const lines = p.formals.map((f) => {
    const value =
      f.default === undefined
        ? ""
        : ` ?${rhs(f.default, { indent: inner, column: width(f.name) + 2, tail: 1 })}`;
    return `${pad(inner)}${f.name}${value},`;
  });
  if (p.ellipsis) lines.push(`${pad(inner)}...`);
  return `${p.as === undefined ? "" : `${p.as}@`}{\n${lines.join("\n")}\n${pad(at.indent)}}`;
}

function brokenSelect(e: NixSelect, at: At): string {
  const from = operand(e.from, "target", { ...at, tail: 0 });
  const selected = `${from}.${e.path.map(attrName).join(".")}`;
  if (e.default === undefined) return selected;
  const column = lastLineWidth(selected, at) + 4;
  return `${selected} or ${operand(e.default, "default", { ...at, column })}`;
}

// ---- bindings: `name = value;` and `inherit` ----

/** A binding on its own line(s) at `indent`, with its comment above it. */
function binding(b: NixBinding, indent: number): string {
  const lead = `${comment(b.comment, indent)}${pad(indent)}`;
  if (b.kind === "inherit") return lead + inheritText(b, indent);
  const name = attrName(b.name);
  return `${lead}${name} =${rhs(b.value, { indent, column: width(name) + 2, tail: 1 })};`;
}

function inheritText(b: NixInherit, indent: number): string {
  const oneLine = flatInherit(b);
  if (oneLine !== undefined && fits(oneLine, { indent, column: 0, tail: 0 })) return oneLine;
  const from =
    b.from === undefined ? "" : ` ${parenthesized(b.from, { indent, column: 8, tail: 0 })}`;
  const inner = pad(indent + 2);
  return `inherit${from}\n${b.names.map((n) => inner + attrName(n)).join("\n")}\n${inner};`;
}

/**
 * The right-hand side of `name =` or `name ?` (at.column is just after the `=` or `?`),
 * starting with the space or line break that separates it.
 */
function rhs(value: NixExpr, at: At): string {
  const sameLine: At = { ...at, column: at.column + 1 };
  if (isNonEmptyAttrs(value) && !isSingleInherit(value)) return ` ${brokenAttrs(value, sameLine)}`;
  if (isAbsorbableExpr(value) || value.kind === "string" || value.kind === "path") {
    return ` ${render(value, sameLine)}`;
  }
  const oneLine = flat(value);
  if (oneLine !== undefined && fits(oneLine, sameLine)) return ` ${oneLine}`;
  if (value.kind === "apply") {
    const absorbed = absorbedApply(value, sameLine);
    if (absorbed !== undefined) return ` ${absorbed}`;
  }
  const below: At = { indent: at.indent + 2, column: 0, tail: at.tail };
  const text = value.kind === "apply" ? expandedApply(value, below) : render(value, below);
  return `\n${pad(below.indent)}${text}`;
}

// ---- function application ----

/**
 * `f a b {` … `}`: everything but the last argument on the first line, the last argument a
 * set, list or block string opening there. Applications of at most two plain arguments
 * (identifiers, strings, paths, plain selections) always stay on one line this way.
 */
function absorbedApply(e: NixApply, at: At): string | undefined {
  const { fn, args } = spine(e);
  const init = args.slice(0, -1);
  const last = args[args.length - 1] as NixExpr;
  const head = joinFlat([flatOperand(fn, "fn"), ...init.map((a) => flatOperand(a, "arg"))], " ");
  if (head === undefined) return undefined;
  const lastAt: At = { ...at, column: at.column + width(head) + 1 };
  if (args.length <= 2 && [fn, ...args].every(isPlain))
    return `${head} ${operand(last, "arg", lastAt)}`;
  if (!isAbsorbable(last) || !fits(`${head} ${opener(last)}`, { ...at, tail: 0 })) return undefined;
  return `${head} ${broken(last, lastAt)}`;
}

/** The function and as many leading arguments as fit on the first line, then one argument a line. */
function expandedApply(e: NixApply, at: At): string {
  const { fn, args } = spine(e);
  let text = operand(fn, "fn", { ...at, tail: 0 });
  let taken = 0;
  for (const arg of args.slice(0, -1)) {
    const oneLine = flatOperand(arg, "arg");
    if (
      oneLine === undefined ||
      !fits(` ${oneLine}`, { ...at, column: lastLineWidth(text, at), tail: 0 })
    )
      break;
    text += ` ${oneLine}`;
    taken++;
  }
  const argIndent = at.indent + 2;
  args.slice(taken).forEach((arg, i, rest) => {
    const tail = i === rest.length - 1 ? at.tail : 0;
    text += `\n${pad(argIndent)}${operand(arg, "arg", { indent: argIndent, column: 0, tail })}`;
  });
  return text;
}

/** `f a` applied to `b` is printed as the one application `f a b`. */
function spine(e: NixApply): { fn: NixExpr; args: readonly NixExpr[] } {
  if (e.fn.kind !== "apply") return { fn: e.fn, args: e.args };
  const inner = spine(e.fn);
  return { fn: inner.fn, args: [...inner.args, ...e.args] };
}

// ---- operands and parentheses ----

/** Syntactic positions where only a "select"-level expression may stand without parentheses. */
type Position = "item" | "arg" | "fn" | "target" | "default";

function needsParens(e: NixExpr, position: Position): boolean {
  switch (e.kind) {
    case "let":
    case "lambda":
      return true;
    case "apply":
      return position !== "fn";
    case "int":
      // `[ -5 ]` is a syntax error and `5.a` lexes as the float `5.`; -2^63 prints parenthesised.
      return e.value === INT64_MIN ? false : e.value < 0n || position === "target";
    case "path":
      // `./a.nix.b` would lex as one longer path.
      return position === "target";
    case "select":
      // Only required as a selection target, but `f (x.a or 1)` reads unambiguously.
      return e.default !== undefined;
    default:
      return false;
  }
}

function flatOperand(e: NixExpr, position: Position): string | undefined {
  const oneLine = flat(e);
  return oneLine !== undefined && needsParens(e, position) ? `(${oneLine})` : oneLine;
}

function operand(e: NixExpr, position: Position, at: At): string {
  return needsParens(e, position) ? parenthesized(e, at) : render(e, at);
}

function parenthesized(e: NixExpr, at: At): string {
  const oneLine = flat(e);
  if (oneLine !== undefined && fits(`(${oneLine})`, at)) return `(${oneLine})`;
  const inside: At = { ...at, column: at.column + 1, tail: at.tail + 1 };
  if (isAbsorbableExpr(e)) return `(${broken(e, inside)})`;
  const absorbed = e.kind === "apply" ? absorbedApply(e, inside) : undefined;
  if (absorbed !== undefined) return `(${absorbed})`;
  const body: At = { indent: at.indent + 2, column: 0, tail: 0 };
  const text = e.kind === "apply" ? expandedApply(e, body) : render(e, body);
  return `(\n${pad(body.indent)}${text}\n${pad(at.indent)})`;
}

// ---- classification ----

/** nixfmt "absorbs" these: they open on the line of whatever precedes them. */
function isAbsorbable(e: NixExpr): boolean {
  switch (e.kind) {
    case "attrs":
      return e.bindings.length > 0;
    case "list":
      return e.items.length > 0;
    case "string":
      return indentedStringLines(e.value) !== undefined;
    case "path":
      return true;
    default:
      return false;
  }
}

/** Also `x: y: {` … `}`: a lambda of plain parameters whose body is absorbable. */
function isAbsorbableExpr(e: NixExpr): boolean {
  if (e.kind === "lambda" && e.param.kind === "name") return isAbsorbable(nameChain(e).body);
  return isAbsorbable(e);
}

/** A set bound to a name is always expanded, except one holding a single `inherit`. */
function isExpandedAsValue(e: NixExpr): boolean {
  return isNonEmptyAttrs(e) && !isSingleInherit(e);
}

function isNonEmptyAttrs(e: NixExpr): e is NixAttrs {
  return e.kind === "attrs" && e.bindings.length > 0;
}

function isSingleInherit(e: NixAttrs): boolean {
  const [only, ...more] = e.bindings;
  return more.length === 0 && only?.kind === "inherit" && only.comment === undefined;
}

/** nixfmt's "simple" terms: these never make an application break. */
function isPlain(e: NixExpr): boolean {
  switch (e.kind) {
    case "ident":
    case "null":
    case "bool":
    case "string":
    case "path":
      return true;
    case "select":
      return e.default === undefined && e.path.every((n) => attrName(n) === n) && isPlain(e.from);
    default:
      return false;
  }
}

function nameChain(e: NixLambda): { names: string[]; body: NixExpr } {
  const names: string[] = [];
  let current: NixExpr = e;
  while (current.kind === "lambda" && current.param.kind === "name") {
    names.push(current.param.name);
    current = current.body;
  }
  return { names, body: current };
}

/** The first line of an absorbable term's expanded form. */
function opener(e: NixExpr): string {
  switch (e.kind) {
    case "attrs":
      return "{";
    case "list":
      return "[";
    case "string":
      return "''";
    default:
      return flat(e) ?? "";
  }
}

// ---- text helpers ----

function comment(text: string | undefined, indent: number): string {
  if (text === undefined) return "";
  return text
    .split("\n")
    .map((line) => {
      const content = line.trimEnd();
      return `${pad(indent)}#${content === "" ? "" : ` ${content}`}\n`;
    })
    .join("");
}

function joinFlat(parts: readonly (string | undefined)[], separator: string): string | undefined {
  return parts.some((p) => p === undefined) ? undefined : parts.join(separator);
}

function fits(text: string, at: At): boolean {
  return at.column + width(text) + at.tail <= WIDTH;
}

/** Column (after indentation) where `text` ends, given it started at `at`. */
function lastLineWidth(text: string, at: At): number {
  const newline = text.lastIndexOf("\n");
  if (newline === -1) return at.column + width(text);
  return width(text.slice(newline + 1)) - at.indent;
}

/** Characters as nixfmt counts them: code points, not UTF-16 units. */
function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function pad(indent: number): string {
  return " ".repeat(indent);
}
