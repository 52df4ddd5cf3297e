/**
 * Nix's lexical rules that decide how a value is spelled in source: identifiers, keywords,
 * string escapes (normal and indented), path literals and the integer range. Checked against
 * Nix 2.8's lexer and parser by test/nix/roundtrip.test.ts.
 */

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

// `or` is a keyword only in some positions; `__curPos` lexes as the current source position.
// Both are always quoted as attribute names and refused as variables.
const RESERVED = new Set([
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
]);

const IDENTIFIER = /^[a-zA-Z_][a-zA-Z0-9_'-]*$/;

/** A name that can stand bare as a variable, an attribute name or a formal argument. */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && !RESERVED.has(name);
}

export function assertIdentifier(name: string, role: string): void {
  if (!isIdentifier(name)) {
    throw new Error(
      `${role} ${JSON.stringify(name)} is not a Nix identifier (letters, digits, _ ' -, not starting with a digit, not a keyword)`,
    );
  }
}

// With the u flag a surrogate pair is one code point, so this matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Nix strings are NUL-terminated byte strings holding UTF-8: no NUL, no unpaired surrogate. */
export function stringContentProblem(value: string): string | undefined {
  if (value.includes("\0")) return "contains NUL, which a Nix string cannot hold";
  if (LONE_SURROGATE.test(value))
    return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return undefined;
}

export function assertStringContent(value: string, role: string): void {
  const problem = stringContentProblem(value);
  if (problem !== undefined) throw new Error(`${role} ${JSON.stringify(value)} ${problem}`);
}

/** `"…"` with `\` `"` `${` and the control characters \n \r \t escaped. */
export function quoteString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' || c === "\\") out += `\\${c}`;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    // `\${` is literal `${`; a `$` before it stays literal too (`$\${` reads back as `$${`).
    else if (c === "$" && value[i + 1] === "{") out += "\\$";
    else out += c;
  }
  return `${out}"`;
}

export function attrName(name: string): string {
  return isIdentifier(name) ? name : quoteString(name);
}

/**
 * The escaped lines of `value` in an indented string (`''…''`), or undefined when that form
 * would not read back as exactly `value` or is not worth it (a single line, only blank lines).
 *
 * The printer puts `''` and a newline first (the lexer drops that line), every non-empty line
 * at the string's indentation + 2 spaces, and `''` at the string's indentation after a final
 * newline (Nix drops a last line made of spaces). Nix then strips the smallest indentation of
 * the lines that hold anything but spaces, so the form is exact only when some such line starts
 * with a non-space character; a last line of spaces alone would be dropped; and `\r` is left to
 * normal strings, whose `\r` escape is unambiguous.
 */
export function indentedStringLines(value: string): string[] | undefined {
  if (!value.includes("\n") || value.includes("\r")) return undefined;
  const lines = value.split("\n");
  if (lines.every((line) => line.trim() === "")) return undefined;
  if (!lines.some((line) => line !== "" && line[0] !== " ")) return undefined;
  const last = lines[lines.length - 1] ?? "";
  if (last !== "" && /^ +$/.test(last)) return undefined;
  return lines.map((line, i) => escapeIndentedLine(line, i === lines.length - 1));
}

/**
 * Inside `''…''`: `''` is written `'''`, `${` is written `''${`, and a lone `'` that would touch
 * a following `''` (an escape, or the closing `''` after the last line) is written `''\'`.
 */
function escapeIndentedLine(line: string, isLastLine: boolean): string {
  let out = "";
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === "'" && line[i + 1] === "'") {
      out += "'''";
      i += 2;
    } else if (c === "'") {
      const atClose = isLastLine && i + 1 === line.length;
      const beforeInterpolation = line[i + 1] === "$" && line[i + 2] === "{";
      out += atClose || beforeInterpolation ? "''\\'" : "'";
      i += 1;
    } else if (c === "$" && line[i + 1] === "{") {
      out += "''$";
      i += 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

// Nix path literal: segments of [a-zA-Z0-9._+-] after `/`, `./` or `../`, no trailing slash.
const PATH = /^(\.\.?)?(\/[a-zA-Z0-9._+-]+)+$/;

export function assertPath(path: string): void {
  if (!PATH.test(path)) {
    throw new Error(
      `path ${JSON.stringify(path)} is not a Nix path literal: it must start with /, ./ or ../, use only letters, digits and . _ + - in its segments, and not end with /`,
    );
  }
}

export function assertInt64(value: bigint): void {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new Error(`integer ${value} is outside Nix's 64-bit integer range`);
  }
}
