import { mkdir, open, readFile, rmdir, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** A lock older than this is left over from a run that died while refreshing: token requests take seconds. */
const STALE_MS = 60_000;
/** How long a refresh waits for another run's refresh of the same login to finish. */
const WAIT_MS = 30_000;
const RETRY_MS = 50;

/**
 * Takes the lock on a login file that every run refreshing that login takes around its
 * read-refresh-save, so two runs never send the same refresh token (a server that rotates refresh
 * tokens would refuse the second). A directory made with mkdir: atomic, and what is left of a
 * crashed run goes stale. Resolves to the release function; rejects after WAIT_MS with a message
 * that names the file, never a value.
 */
export async function lockLogin(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.jailed-lock`;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await mkdir(lock, { mode: 0o700 });
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rmdir(lock).catch(() => {});
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const taken = await stat(lock).catch(() => null);
    if (taken !== null && Date.now() - taken.mtimeMs > STALE_MS) {
      await rmdir(lock).catch(() => {});
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`${lock} has been held for ${WAIT_MS / 1000} s by another refresh`);
    await sleep(RETRY_MS);
  }
}

export function readLogin(file: string): Promise<string> {
  return readFile(file, "utf8");
}

/**
 * Writes `text` over the login file in place: the new bytes first, then the length, so a reader
 * (the host's own agent) sees the old login or the new one, and at worst, for the moment between
 * the two when the new text is shorter, the new one with a stale tail. Not a new file renamed
 * over it: replacing the file's directory entry makes Linux detach every mount on it in other
 * mount namespaces, and a running jail whose dummy copy is bound over this path would see the
 * host's real file from then on.
 */
export async function saveLogin(file: string, text: string): Promise<void> {
  const bytes = Buffer.from(text);
  const handle = await open(file, "r+");
  try {
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.truncate(bytes.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
