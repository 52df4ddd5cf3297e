import { attrs, bind, bool, int, list, type NixExpr, nixNull, str } from "./ast.js";
import { stringContentProblem } from "./lexical.js";

/**
 * Plain JSON-like data as a Nix expression: null, booleans, safe integers, strings, arrays and
 * plain objects (keys in their own order). Anything Nix cannot hold or that JSON would silently
 * drop or change — floats, NaN, undefined, functions, symbols, bigints, class instances, holes,
 * cycles, strings with NUL or unpaired surrogates — throws, naming where it sits (`$.a[0]`).
 */
export function fromJson(value: unknown): NixExpr {
  return convert(value, "$", new Set());
}

function convert(value: unknown, at: string, ancestors: Set<object>): NixExpr {
  if (value === null) return nixNull;
  switch (typeof value) {
    case "boolean":
      return bool(value);
    case "number":
      if (!Number.isSafeInteger(value)) {
        throw new Error(
          `fromJson: ${at} is ${value}; only safe integers fit (Nix floats are not emitted)`,
        );
      }
      return int(value);
    case "string": {
      checkString(value, at);
      return str(value);
    }
    case "object":
      return convertObject(value, at, ancestors);
    default:
      throw new Error(`fromJson: ${at} is ${describe(value)}, which is not JSON data`);
  }
}

function convertObject(value: object, at: string, ancestors: Set<object>): NixExpr {
  if (ancestors.has(value))
    throw new Error(`fromJson: ${at} refers back to an enclosing value (a cycle)`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items: NixExpr[] = [];
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) throw new Error(`fromJson: ${at}[${i}] is a hole in a sparse array`);
        items.push(convert(value[i], `${at}[${i}]`, ancestors));
      }
      return list(items);
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new Error(`fromJson: ${at} is ${describe(value)}, not a plain object`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new Error(`fromJson: ${at} has symbol keys, which JSON cannot carry`);
    }
    return attrs(
      Object.entries(value).map(([key, v]) => {
        const where = `${at}[${JSON.stringify(key)}]`;
        checkString(key, `key ${where}`);
        return bind(key, convert(v, where, ancestors));
      }),
    );
  } finally {
    ancestors.delete(value);
  }
}

function checkString(value: string, at: string): void {
  const problem = stringContentProblem(value);
  if (problem !== undefined) throw new Error(`fromJson: ${at} ${problem}`);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    return `an instance of ${value.constructor?.name ?? "an unknown class"}`;
  }
  return `a ${typeof value}`;
}
