import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CredentialError,
  makeDummy,
  type ResolvedCredential,
  readCredentialSource,
} from "../proxy/index.js";
import type { Credential } from "../spec/credential.js";
import type { JailConfig } from "../spec/jail-config.js";
import { JailSetupError } from "./errors.js";
import type { Bind } from "./linux/bwrap.js";
import { expandHome } from "./linux/paths.js";
import type { JailPlan } from "./plan.js";

/** A dummy copy of a credentials file, for the jail to find at `path`. */
export interface DummyFile {
  path: string;
  contents: string;
}

/** A run's credentials: what the proxy holds, and where the jail finds the dummies. */
export interface RunCredentials {
  resolved: ResolvedCredential[];
  /** sandboxEnv name -> dummy. */
  env: Record<string, string>;
  files: DummyFile[];
}

/** Keys whose string values are secrets in a credentials file (OAuth access and refresh tokens, keys). */
const SECRET_KEY = /token|secret|password|api_?key/i;

function secretStrings(node: unknown, key: string, found: Set<string>): void {
  if (typeof node === "string") {
    if (SECRET_KEY.test(key) && node.length > 0) found.add(node);
  } else if (Array.isArray(node)) {
    for (const item of node) secretStrings(item, key, found);
  } else if (node !== null && typeof node === "object") {
    for (const [name, value] of Object.entries(node)) secretStrings(value, name, found);
  }
}

/**
 * The jail's copy of a credentials file: the real value replaced by its dummy, and, in a JSON
 * file, every other secret-named string (a refresh token beside the access token) by a dummy of
 * its own that nothing maps back. `pick` is for tests.
 */
export function dummyFileContents(
  text: string,
  real: string,
  dummy: string,
  pick?: (n: number) => number,
): string {
  let contents = text.replaceAll(real, dummy);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return contents;
  }
  const secrets = new Set<string>();
  secretStrings(document, "", secrets);
  secrets.delete(real);
  for (const secret of secrets) {
    // JSON.stringify quotes exactly as the file would: replace whole string literals only.
    contents = contents.replaceAll(JSON.stringify(secret), JSON.stringify(makeDummy(secret, pick)));
  }
  return contents;
}

function readHostFile(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new JailSetupError(
      `cannot read ${path} to make its dummy copy (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

async function readReal(
  name: string,
  credential: Credential,
  home: string,
  env: NodeJS.ProcessEnv,
) {
  try {
    return await readCredentialSource(name, credential.source, { env, home });
  } catch (error) {
    if (error instanceof CredentialError) throw new JailSetupError(error.message);
    throw error;
  }
}

/**
 * Reads each credential's real value on the host and makes its dummy. A credential whose source is
 * not set up (unset variable, missing file) is left out: no dummy, no injection. One that fails
 * (a command exits non-zero, a file is unreadable or malformed) stops the run, by name.
 */
export async function resolveRunCredentials(
  config: JailConfig,
  home: string,
  env: NodeJS.ProcessEnv,
): Promise<RunCredentials> {
  const run: RunCredentials = { resolved: [], env: {}, files: [] };
  for (const [name, credential] of Object.entries(config.credentials)) {
    const real = await readReal(name, credential, home, env);
    if (real === null) continue;
    const dummy = makeDummy(real);
    run.resolved.push({ name, hosts: credential.hosts, real, dummy });
    if (credential.sandboxEnv !== null) run.env[credential.sandboxEnv] = dummy;
    if (credential.sandboxFile !== null) {
      const path = expandHome(credential.sandboxFile, home);
      const text = readHostFile(path);
      run.files.push({
        path,
        contents: text === null ? `${dummy}\n` : dummyFileContents(text, real, dummy),
      });
    }
  }
  return run;
}

function hide(value: string, resolved: readonly ResolvedCredential[]): string {
  return resolved.reduce((text, { real, dummy }) => text.replaceAll(real, dummy), value);
}

/**
 * The plan with any real value in the jail's environment or argv replaced by its dummy: a real key
 * forwarded by `fwdEnv` or passed on the command line reaches the jail as the dummy too.
 */
export function withDummies(plan: JailPlan, credentials: RunCredentials): JailPlan {
  const { resolved } = credentials;
  if (resolved.length === 0) return plan;
  return {
    ...plan,
    argv: plan.argv.map((arg) => hide(arg, resolved)),
    env: Object.fromEntries(
      Object.entries(plan.env).map(([name, value]) => [name, hide(value, resolved)]),
    ),
  };
}

/**
 * Writes the dummy files (0600) in the run directory; the binds put them over their paths,
 * read-only, after the config directories that usually hold them.
 */
export function writeDummyFiles(credentials: RunCredentials, runDir: string): Bind[] {
  return credentials.files.map((file, index) => {
    const source = join(runDir, `credential-${index}`);
    writeFileSync(source, file.contents, { mode: 0o600 });
    return { source, dest: file.path, readOnly: true };
  });
}
