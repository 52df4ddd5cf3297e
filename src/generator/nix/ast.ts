/**
 * A typed AST for the Nix the generator writes. It holds values, not spellings: the printer
 * (print.ts) chooses quoting, escaping, string form and parentheses. The constructors below
 * check their own arguments so mistakes surface where they are made; printNix checks the
 * whole tree again, as nodes may also be written as plain objects.
 */
import { assertIdentifier, assertInt64, assertPath, assertStringContent } from "./lexical.js";

export type NixExpr =
  | NixNull
  | NixBool
  | NixInt
  | NixString
  | NixPath
  | NixIdent
  | NixList
  | NixAttrs
  | NixLet
  | NixLambda
  | NixApply
  | NixSelect;

export interface NixNull {
  readonly kind: "null";
}

export interface NixBool {
  readonly kind: "bool";
  readonly value: boolean;
}

/** A 64-bit signed integer (Nix has no wider one). */
export interface NixInt {
  readonly kind: "int";
  readonly value: bigint;
}

/** Printed as `"…"`, or as `''…''` when it spans lines and that form reads back exactly. */
export interface NixString {
  readonly kind: "string";
  readonly value: string;
}

/** A path literal: `/abs/file`, `./rel`, `../up`. */
export interface NixPath {
  readonly kind: "path";
  readonly path: string;
}

/** A variable reference, e.g. `builtins`, `pkgs`. */
export interface NixIdent {
  readonly kind: "ident";
  readonly name: string;
}

export interface NixList {
  readonly kind: "list";
  readonly items: readonly NixListItem[];
}

export interface NixListItem {
  readonly kind: "item";
  readonly value: NixExpr;
  /** Line comment printed above the item; may span lines. */
  readonly comment?: string;
}

export interface NixAttrs {
  readonly kind: "attrs";
  readonly bindings: readonly NixBinding[];
}

export type NixBinding = NixAssign | NixInherit;

/** `name = value;` — the name is one attribute, never split on dots. */
export interface NixAssign {
  readonly kind: "assign";
  readonly name: string;
  readonly value: NixExpr;
  /** Line comment printed above the binding; may span lines. */
  readonly comment?: string;
}

/** `inherit a b;` or `inherit (from) a b;` */
export interface NixInherit {
  readonly kind: "inherit";
  readonly names: readonly string[];
  readonly from?: NixExpr;
  readonly comment?: string;
}

export interface NixLet {
  readonly kind: "let";
  readonly bindings: readonly NixBinding[];
  readonly body: NixExpr;
}

export interface NixLambda {
  readonly kind: "lambda";
  readonly param: NixParam;
  readonly body: NixExpr;
}

export type NixParam = NixNameParam | NixFormals;

/** `x: body` */
export interface NixNameParam {
  readonly kind: "name";
  readonly name: string;
}

/** `{ a, b ? default, ... }: body`, optionally `as@{ … }: body` */
export interface NixFormals {
  readonly kind: "formals";
  readonly formals: readonly NixFormal[];
  readonly ellipsis: boolean;
  readonly as?: string;
}

export interface NixFormal {
  readonly name: string;
  readonly default?: NixExpr;
}

/** `fn arg1 arg2 …` */
export interface NixApply {
  readonly kind: "apply";
  readonly fn: NixExpr;
  readonly args: readonly [NixExpr, ...NixExpr[]];
}

/** `from.a."b c"`, with `or default` when given. Each path element is one attribute name. */
export interface NixSelect {
  readonly kind: "select";
  readonly from: NixExpr;
  readonly path: readonly [string, ...string[]];
  readonly default?: NixExpr;
}

export const nixNull: NixNull = { kind: "null" };

export function bool(value: boolean): NixBool {
  return { kind: "bool", value };
}

/** Takes a safe integer or a bigint; floats and unsafe numbers are refused (precision is already lost). */
export function int(value: number | bigint): NixInt {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new Error(`int(${value}): not a safe integer; pass a bigint for values beyond 2^53`);
  }
  const big = BigInt(value);
  assertInt64(big);
  return { kind: "int", value: big };
}

export function str(value: string): NixString {
  assertStringContent(value, "string");
  return { kind: "string", value };
}

export function path(literal: string): NixPath {
  assertPath(literal);
  return { kind: "path", path: literal };
}

export function ident(name: string): NixIdent {
  assertIdentifier(name, "variable");
  return { kind: "ident", name };
}

export function list(items: readonly (NixExpr | NixListItem)[]): NixList {
  return {
    kind: "list",
    items: items.map((i) => (i.kind === "item" ? i : { kind: "item", value: i })),
  };
}

/** A list item with a comment above it. */
export function item(value: NixExpr, comment: string): NixListItem {
  return { kind: "item", value, comment };
}

export function attrs(bindings: readonly NixBinding[]): NixAttrs {
  return { kind: "attrs", bindings };
}

export function bind(name: string, value: NixExpr, comment?: string): NixAssign {
  return comment === undefined
    ? { kind: "assign", name, value }
    : { kind: "assign", name, value, comment };
}

export function inherit(
  names: readonly string[],
  options: { from?: NixExpr; comment?: string } = {},
): NixInherit {
  return { kind: "inherit", names, ...options };
}

export function letIn(bindings: readonly NixBinding[], body: NixExpr): NixLet {
  return { kind: "let", bindings, body };
}

/** `lambda("x", body)` is `x: body`; pass `formals(…)` for `{ a, b ? d, ... }: body`. */
export function lambda(param: string | NixFormals, body: NixExpr): NixLambda {
  return {
    kind: "lambda",
    param: typeof param === "string" ? { kind: "name", name: param } : param,
    body,
  };
}

export function formals(
  names: readonly (string | NixFormal)[],
  options: { ellipsis?: boolean; as?: string } = {},
): NixFormals {
  const base = {
    kind: "formals",
    formals: names.map((f) => (typeof f === "string" ? { name: f } : f)),
    ellipsis: options.ellipsis ?? false,
  } as const;
  return options.as === undefined ? base : { ...base, as: options.as };
}

export function formal(name: string, defaultValue: NixExpr): NixFormal {
  return { name, default: defaultValue };
}

export function apply(fn: NixExpr, ...args: [NixExpr, ...NixExpr[]]): NixApply {
  return { kind: "apply", fn, args };
}

export function select(
  from: NixExpr,
  attrPath: readonly [string, ...string[]],
  defaultValue?: NixExpr,
): NixSelect {
  return defaultValue === undefined
    ? { kind: "select", from, path: attrPath }
    : { kind: "select", from, path: attrPath, default: defaultValue };
}
