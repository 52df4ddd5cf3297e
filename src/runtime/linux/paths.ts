import { posix } from "node:path";

/** Expands `~/x` against home; the result is normalised, without a trailing slash. */
export function expandHome(path: string, home: string): string {
  return posix.resolve(path === "~" || path.startsWith("~/") ? `${home}/${path.slice(1)}` : path);
}

/** True when `inner` is `outer` or lies below it. */
export function isWithin(inner: string, outer: string): boolean {
  const relative = posix.relative(outer, inner);
  return relative === "" || (!relative.startsWith("..") && !posix.isAbsolute(relative));
}
