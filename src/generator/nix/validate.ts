import type { NixBinding, NixExpr, NixParam } from "./ast.js";
import { assertIdentifier, assertInt64, assertPath, assertStringContent } from "./lexical.js";

/**
 * Throws on anything the printer could not spell as valid Nix that evaluates to the value the
 * AST describes: bad identifiers, paths or integers, strings Nix cannot hold, duplicate names,
 * empty `inherit`, comments a line comment cannot carry.
 */
export function validateNix(expr: NixExpr): void {
  switch (expr.kind) {
    case "null":
    case "bool":
      return;
    case "int":
      assertInt64(expr.value);
      return;
    case "string":
      assertStringContent(expr.value, "string");
      return;
    case "path":
      assertPath(expr.path);
      return;
    case "ident":
      assertIdentifier(expr.name, "variable");
      return;
    case "list":
      for (const item of expr.items) {
        validateComment(item.comment);
        validateNix(item.value);
      }
      return;
    case "attrs":
      validateBindings(expr.bindings);
      return;
    case "let":
      validateBindings(expr.bindings);
      validateNix(expr.body);
      return;
    case "lambda":
      validateParam(expr.param);
      validateNix(expr.body);
      return;
    case "apply":
      if (expr.args.length === 0) throw new Error("function application without arguments");
      validateNix(expr.fn);
      for (const arg of expr.args) validateNix(arg);
      return;
    case "select":
      if (expr.path.length === 0) throw new Error("attribute selection with an empty path");
      validateNix(expr.from);
      for (const name of expr.path) assertStringContent(name, "attribute name");
      if (expr.default !== undefined) validateNix(expr.default);
      return;
    default:
      throw new Error(
        `unknown Nix AST node kind ${String((expr satisfies never as { kind: unknown }).kind)}`,
      );
  }
}

function validateBindings(bindings: readonly NixBinding[]): void {
  const seen = new Set<string>();
  const define = (name: string) => {
    assertStringContent(name, "attribute name");
    if (seen.has(name)) throw new Error(`attribute ${JSON.stringify(name)} is defined twice`);
    seen.add(name);
  };
  for (const binding of bindings) {
    validateComment(binding.comment);
    if (binding.kind === "assign") {
      define(binding.name);
      validateNix(binding.value);
    } else {
      if (binding.names.length === 0) throw new Error("inherit without names");
      for (const name of binding.names) define(name);
      if (binding.from !== undefined) validateNix(binding.from);
    }
  }
}

function validateParam(param: NixParam): void {
  if (param.kind === "name") {
    assertIdentifier(param.name, "function parameter");
    return;
  }
  const seen = new Set<string>();
  for (const f of param.formals) {
    assertIdentifier(f.name, "formal argument");
    if (seen.has(f.name))
      throw new Error(`formal argument ${JSON.stringify(f.name)} appears twice`);
    seen.add(f.name);
    if (f.default !== undefined) validateNix(f.default);
  }
  if (param.as !== undefined) {
    assertIdentifier(param.as, "@-pattern name");
    if (seen.has(param.as)) {
      throw new Error(`@-pattern name ${JSON.stringify(param.as)} is also a formal argument`);
    }
  }
}

export function validateComment(comment: string | undefined): void {
  if (comment === undefined) return;
  assertStringContent(comment, "comment");
  // A line comment ends at CR as well as LF; a CR would leave the rest of the line as code.
  if (comment.includes("\r")) throw new Error(`comment ${JSON.stringify(comment)} contains CR`);
}
