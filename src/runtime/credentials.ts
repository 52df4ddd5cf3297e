import { readFileSync, statSync, watch, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
// The credential modules themselves, not ../proxy/index.js: these run before the jail is spawned,
// and the proxy's policy and CA code loads after.
import { makeDummy } from "../proxy/credentials/dummy.js";
import type { ResolvedCredential, ResolvedOAuth } from "../proxy/credentials/inject.js";
import { CredentialError, readCredentialSource, valueInFile } from "../proxy/credentials/source.js";
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
  /** An OAuth login's file: the agent saves its refreshed (dummy) tokens in it. */
  writable: boolean;
}

/** A run's credentials: what the proxy holds, and where the jail finds the dummies. */
export interface RunCredentials {
  resolved: ResolvedCredential[];
  /** sandboxEnv name -> dummy. */
  env: Record<string, string>;
  files: DummyFile[];
}

/**
 * Keys whose string values are secrets in a credentials file: OAuth access, refresh and ID tokens
 * (`accessToken`, `refresh_token`, `id_token`; not `token_type`, which clients put in the
 * Authorization header as is), secrets, passwords, keys.
 */
const SECRET_KEY = /token$|secret|password|api_?key/i;

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
 * The jail's copy of a credentials file: each known real value (the credential's, and an OAuth
 * login's refresh token) replaced by its dummy, and, in a JSON file, every other secret-named
 * string by a dummy of its own that nothing maps back. `pick` is for tests.
 */
export function dummyFileContents(
  text: string,
  known: readonly { real: string; dummy: string }[],
  pick?: (n: number) => number,
): string {
  let contents = known.reduce((out, { real, dummy }) => out.replaceAll(real, dummy), text);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return contents;
  }
  const secrets = new Set<string>();
  secretStrings(document, "", secrets);
  for (const { real } of known) secrets.delete(real);
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
 * An OAuth login's refresh side, from the login file the access token was read from; undefined
 * when the credential has no `oauth` or the file holds no refresh token (nothing to refresh).
 */
function resolveOAuth(
  name: string,
  credential: Credential,
  home: string,
): ResolvedOAuth | undefined {
  const { oauth, source } = credential;
  if (oauth === undefined || source.type !== "file" || source.pointer === null) return undefined;
  const file = expandHome(source.path, home);
  const text = readHostFile(file);
  let real: string | null;
  try {
    real = text === null ? null : valueInFile(name, text, oauth.refreshPointer);
  } catch (error) {
    throw new JailSetupError((error as Error).message);
  }
  if (real === null) return undefined;
  return {
    file,
    accessPointer: source.pointer,
    refreshPointer: oauth.refreshPointer,
    expiresAtPointer: oauth.expiresAtPointer,
    tokenUrls: oauth.tokenUrls,
    refresh: { real, dummy: makeDummy(real) },
  };
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
    const oauth = resolveOAuth(name, credential, home);
    run.resolved.push({
      name,
      hosts: credential.hosts,
      real,
      dummy,
      ...(oauth !== undefined && { oauth }),
    });
    if (credential.sandboxEnv !== null) run.env[credential.sandboxEnv] = dummy;
    if (credential.sandboxFile !== null) {
      const path = expandHome(credential.sandboxFile, home);
      const text = readHostFile(path);
      const known = [{ real, dummy }, ...(oauth === undefined ? [] : [oauth.refresh])];
      run.files.push({
        path,
        contents: text === null ? `${dummy}\n` : dummyFileContents(text, known),
        writable: oauth !== undefined,
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
 * Writes the dummy files (0600) in the run directory; the binds put them over their paths, after
 * the config directories that usually hold them: read-only, but for an OAuth login's file, where
 * the agent saves the dummies of a refresh (it may refuse to refresh a login it cannot save; the
 * proxy saves the real tokens on the host).
 */
export function writeDummyFiles(credentials: RunCredentials, runDir: string): Bind[] {
  return credentials.files.map((file, index) => {
    const source = join(runDir, `credential-${index}`);
    writeFileSync(source, file.contents, { mode: 0o600 });
    return { source, dest: file.path, readOnly: !file.writable };
  });
}

/** Which file a path names: device and inode, or null when there is none. */
type FileIdentity = { dev: number; ino: number } | null;

function fileIdentity(path: string): FileIdentity {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    return null;
  }
}

const sameFile = (a: FileIdentity, b: FileIdentity): boolean =>
  a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;

/**
 * Watches the host's credential files under the jail's dummies. A dummy covers the file's directory
 * entry, and Linux drops that cover in every namespace when the host unlinks or renames over the
 * entry (how agents save a login: write a new file, rename it into place), after which the jail reads
 * the new, real file through its writable config directory. `onReplaced` then gets the path, so the
 * run can stop the jail before it uses it. Identities are taken now, before the jail starts.
 */
export function watchCredentialFiles(
  credentials: RunCredentials,
  onReplaced: (path: string) => void,
): () => void {
  const watchers = credentials.files.map(({ path }) => {
    const original = fileIdentity(path);
    return watch(dirname(path), { persistent: false }, (_event, name) => {
      if (name !== null && name !== basename(path)) return;
      if (!sameFile(original, fileIdentity(path))) onReplaced(path);
    });
  });
  return () => {
    for (const watcher of watchers) watcher.close();
  };
}
