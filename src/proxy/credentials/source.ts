import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import type { CredentialSource } from "../../spec/credential.js";

/** A credential that could not be read; its message names the credential, never a value. */
export class CredentialError extends Error {
  override readonly name = "CredentialError";
}

/** How long a `command` source may take (a keychain prompt is answered well within it). */
export const COMMAND_TIMEOUT_MS = 30_000;

/**
 * The value at an RFC 6901 JSON pointer, or undefined when the document has nothing there.
 * Throws (a message without values) on a pointer that is not one.
 */
export function atPointer(document: unknown, pointer: string): unknown {
  if (pointer === "") return document;
  if (!pointer.startsWith("/")) throw new Error(`${JSON.stringify(pointer)} is not a JSON pointer`);
  let node = document;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(key)) node = node[Number(key)];
    else if (node !== null && typeof node === "object" && Object.hasOwn(node, key))
      node = (node as Record<string, unknown>)[key];
    else return undefined;
  }
  return node;
}

/** The value in a credential file's text: all of it trimmed, or the string at `pointer`. */
export function valueInFile(name: string, text: string, pointer: string | null): string | null {
  if (pointer === null) return nonEmpty(text.trim());
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: it could be the secret.
    throw new CredentialError(`credential ${name}: the file is not valid JSON`);
  }
  let value: unknown;
  try {
    value = atPointer(document, pointer);
  } catch (error) {
    throw new CredentialError(`credential ${name}: ${(error as Error).message}`);
  }
  if (value === undefined) return null;
  if (typeof value !== "string")
    throw new CredentialError(`credential ${name}: ${pointer} is not a string in the file`);
  return nonEmpty(value.trim());
}

function nonEmpty(value: string): string | null {
  return value === "" ? null : value;
}

export interface SourceContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Expands `~/…` in file paths. */
  home: string;
}

function expandHome(path: string, home: string): string {
  return path.startsWith("~/") ? `${home}${path.slice(1)}` : path;
}

function runCommand(name: string, argv: readonly string[]): Promise<string> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    // A run that ends while the command runs (a signal, say) does not leave it running; what the
    // command itself started is the command's to end, as on its timeout.
    const stop = (): void => {
      child.kill();
    };
    process.once("exit", stop);
    const child = execFile(
      file,
      args,
      { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 1 << 20, encoding: "utf8" },
      (error, stdout) => {
        process.off("exit", stop);
        if (error === null) {
          resolve(stdout);
          return;
        }
        // Never the command's output: a failing secret tool may print the secret, or part of it.
        const why = error.killed
          ? `timed out after ${COMMAND_TIMEOUT_MS / 1000} s`
          : typeof error.code === "number"
            ? `exited with status ${error.code}`
            : `could not run (${String(error.code ?? error.signal)})`;
        reject(new CredentialError(`credential ${name}: command ${JSON.stringify(file)} ${why}`));
      },
    );
  });
}

/**
 * Reads a credential's real value on the host. Null when the source is simply not set up (an
 * unset variable, a missing file, nothing at the pointer, empty output): the run goes on without
 * that credential. Any other failure is a CredentialError.
 */
export async function readCredentialSource(
  name: string,
  source: CredentialSource,
  context: SourceContext,
): Promise<string | null> {
  switch (source.type) {
    case "env":
      return nonEmpty((context.env[source.name] ?? "").trim());
    case "file": {
      const path = expandHome(source.path, context.home);
      let text: string;
      try {
        // Sync: it runs before the jail starts, with nothing else to do, and node:fs/promises would
        // cost a run with the proxy ~1 ms to load.
        text = readFileSync(path, "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return null;
        throw new CredentialError(`credential ${name}: cannot read ${path} (${code})`);
      }
      return valueInFile(name, text, source.pointer);
    }
    case "command": {
      const value = nonEmpty((await runCommand(name, source.argv)).trim());
      if (value === null)
        throw new CredentialError(
          `credential ${name}: command ${JSON.stringify(source.argv[0])} printed nothing`,
        );
      return value;
    }
  }
}
