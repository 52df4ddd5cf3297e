import { posix } from "node:path";
import { JailSetupError } from "./errors.js";

/** What lstat says a path is: a symlink is never followed; a fifo, socket or device counts as a file. */
export type PathKind = "file" | "dir" | "symlink" | "absent";

export interface Placeholder {
  path: string;
  kind: "file" | "dir";
  /** A file's content; the placeholder is removed after the run only if it still has it. */
  content: string;
}

/** How the jail keeps protected paths (JailConfig.protectedPaths) from being written. */
export interface ProtectionPlan {
  /** Created on the host before the run, parents first, so that a missing path has something to bind. */
  placeholders: Placeholder[];
  /**
   * Directories on the way to a protected path, bound onto themselves read-write: a mount point cannot
   * be renamed or removed, so `mv .git elsewhere` cannot take the protected paths inside away.
   */
  anchors: string[];
  /** Bound read-only over themselves, after the anchors. */
  readOnly: string[];
}

/**
 * A placeholder reads as "nothing here": empty, `{}` for JSON, and `.` for `.git/commondir`. Git reads
 * that file as "my config and hooks live in this directory": an empty one stops git, `.` changes nothing,
 * and a planted one would move git's config and hooks out from under `.git/config` and `.git/hooks`.
 */
export function placeholderContent(path: string): string {
  if (posix.basename(path) === "commondir" && posix.basename(posix.dirname(path)) === ".git") {
    return ".\n";
  }
  return path.endsWith(".json") ? "{}\n" : "";
}

function refuseSymlink(entry: string, path: string): never {
  throw new JailSetupError(
    `protected path ${entry}: ${path} is a symbolic link, which jailed will not follow (it may point outside the working directory) and cannot bind over; replace the link, or lift ${entry} from protectedPaths`,
  );
}

const depth = (path: string): number => path.split("/").length;
// Plain code-unit order, not localeCompare: its first call builds an ICU collator (~10 ms of start).
const byDepth = (paths: Iterable<string>): string[] =>
  [...paths].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));

/**
 * Plans the protection of `entries` (relative to `cwd`; a trailing `/` marks a directory) from what
 * `kindOf` says exists. A missing path gets a placeholder, and so do its missing parents, except that a
 * `.git` is never created: one that is not a repository confuses the many tools that take any `.git`
 * for the top of a repository, and would stop a legitimate `git init`. So without a `.git` directory
 * nothing under `.git/` is protected; with a `.git` file (a worktree or a submodule checkout, whose
 * repository lies outside the jail) that file is bound read-only, since a file where a directory would
 * be is protected by binding the file: nothing can be created below it.
 */
export function planProtection(
  cwd: string,
  entries: readonly string[],
  kindOf: (path: string) => PathKind,
): ProtectionPlan {
  const placeholders = new Map<string, Placeholder>();
  const anchors = new Set<string>();
  const readOnly = new Set<string>();
  const kind = (path: string): PathKind => placeholders.get(path)?.kind ?? kindOf(path);

  /**
   * Whether `path` will exist as a directory or file, after a placeholder if need be; "stop" when it
   * will not, or when it is a file where a directory would be (then bound read-only, so nothing below it
   * can be created either).
   */
  const reach = (entry: string, path: string, wanted: "file" | "dir"): "exists" | "stop" => {
    const found = kind(path);
    if (found === "symlink") refuseSymlink(entry, path);
    if (found === "absent") {
      if (posix.basename(path) === ".git") return "stop";
      const content = wanted === "file" ? placeholderContent(path) : "";
      placeholders.set(path, { path, kind: wanted, content });
      return "exists";
    }
    if (wanted === "dir" && found === "file") {
      readOnly.add(path);
      return "stop";
    }
    return "exists";
  };

  for (const entry of entries) {
    const isDir = entry.endsWith("/");
    const segments = entry.replace(/\/$/, "").split("/");
    let path = cwd;
    let reached = true;
    for (const segment of segments.slice(0, -1)) {
      path = posix.join(path, segment);
      if (reach(entry, path, "dir") === "stop") {
        reached = false;
        break;
      }
      anchors.add(path);
    }
    if (!reached) continue;
    path = posix.join(path, segments[segments.length - 1] as string);
    if (reach(entry, path, isDir ? "dir" : "file") === "exists") readOnly.add(path);
  }
  for (const path of readOnly) anchors.delete(path);
  return {
    placeholders: [...placeholders.values()],
    anchors: byDepth(anchors),
    readOnly: byDepth(readOnly),
  };
}

/**
 * The repository's info/exclude as git in the jail should read it: placeholders for missing files in the
 * work tree (an empty `.envrc`, a `{}` `.mcp.json`) are ignored, so `git add -A` in the jail does not
 * commit them. Null when there is nothing to add.
 */
export function excludeWithPlaceholders(
  exclude: string,
  cwd: string,
  placeholders: readonly Placeholder[],
): string | null {
  const git = posix.join(cwd, ".git");
  const files = placeholders.filter(
    (placeholder) => placeholder.kind === "file" && !placeholder.path.startsWith(`${git}/`),
  );
  if (files.length === 0) return null;
  const lines = files.map(
    (placeholder) => `/${posix.relative(cwd, placeholder.path).replace(/[\\*?[]/g, "\\$&")}`,
  );
  const separator = exclude === "" || exclude.endsWith("\n") ? "" : "\n";
  return `${exclude}${separator}# jailed: placeholders for protected paths, during this run only\n${lines.join("\n")}\n`;
}
