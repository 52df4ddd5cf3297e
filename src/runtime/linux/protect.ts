import { lstatSync, mkdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JailSetupError } from "../errors.js";
import type { JailPlan } from "../plan.js";
import {
  excludeWithPlaceholders,
  type PathKind,
  type Placeholder,
  planProtection,
} from "../protection.js";
import type { Bind } from "./bwrap.js";

/** The binds that protect the plan's protectedPaths, and the undo of what was made for them. */
export interface ProtectedPaths {
  binds: Bind[];
  /** Removes the placeholders that are still as they were made; for every exit path of the run. */
  release(): void;
}

function kindOf(path: string): PathKind {
  try {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return "symlink";
    return stat.isDirectory() ? "dir" : "file";
  } catch {
    return "absent";
  }
}

const errorCode = (error: unknown): string =>
  (error as NodeJS.ErrnoException).code ?? "unknown error";

/**
 * The user cannot create it here, and the agent runs as the same user with no capabilities, so it
 * cannot either: no placeholder is needed (and without one, nothing is bound there). EEXIST: something
 * made it since it was looked at; it exists and is bound, but it is not ours to remove.
 */
const LEAVE = new Set(["EEXIST", "EACCES", "EPERM", "EROFS", "ENOENT"]);

function create(placeholder: Placeholder): boolean {
  try {
    if (placeholder.kind === "dir") mkdirSync(placeholder.path);
    else writeFileSync(placeholder.path, placeholder.content, { flag: "wx" });
    return true;
  } catch (error) {
    if (LEAVE.has(errorCode(error))) return false;
    throw new JailSetupError(
      `cannot create a placeholder for the protected path ${placeholder.path}: ${(error as Error).message}`,
    );
  }
}

/** Removes a placeholder only if nothing (the user, on the host) has put anything in it meanwhile. */
function remove(placeholder: Placeholder): void {
  try {
    if (placeholder.kind === "dir") rmdirSync(placeholder.path);
    else if (
      kindOf(placeholder.path) === "file" &&
      readFileSync(placeholder.path, "utf8") === placeholder.content
    ) {
      unlinkSync(placeholder.path);
    }
  } catch {
    // Not empty, gone already: leave it.
  }
}

/** info/exclude for git in the jail, written to the run directory, when placeholders need ignoring. */
function excludeBind(cwd: string, runDir: string, created: readonly Placeholder[]): Bind[] {
  const exclude = join(cwd, ".git", "info", "exclude");
  if (kindOf(exclude) !== "file") return [];
  const content = excludeWithPlaceholders(readFileSync(exclude, "utf8"), cwd, created);
  if (content === null) return [];
  const source = join(runDir, "git-exclude");
  writeFileSync(source, content, { mode: 0o644 });
  return [{ source, dest: exclude, readOnly: true }];
}

/**
 * Makes the placeholders protection.ts plans (a missing protected path cannot be bound, and binding it is
 * what keeps the jail from creating it) and returns the binds for bwrapArgs, in order.
 */
export function protectPaths(plan: JailPlan, runDir: string): ProtectedPaths {
  const planned = planProtection(plan.cwd, plan.protectedPaths, kindOf);
  const created: Placeholder[] = [];
  const release = (): void => {
    for (let placeholder = created.pop(); placeholder; placeholder = created.pop()) {
      remove(placeholder);
    }
  };
  try {
    for (const placeholder of planned.placeholders) {
      if (create(placeholder)) created.push(placeholder);
    }
    const exists = (path: string): boolean => kindOf(path) !== "absent";
    const self = (readOnly: boolean) => (path: string) => ({ source: path, dest: path, readOnly });
    const binds = [
      ...planned.anchors.filter(exists).map(self(false)),
      ...planned.readOnly.filter(exists).map(self(true)),
      ...excludeBind(plan.cwd, runDir, created),
    ];
    return { binds, release };
  } catch (error) {
    release();
    throw error;
  }
}
