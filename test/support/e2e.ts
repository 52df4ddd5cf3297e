import { chownSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Upstream } from "../proxy/helpers.js";
import type { Runner, Sandbox } from "./jail-run.js";

/** Inside the jail: the environment and every process's environ and cmdline (the jail has no grep). */
export const DUMP = `
env
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done
echo DUMP-END
`;

/** The run's audit logs under the sandbox's XDG_STATE_HOME, as one text. */
export function auditText(sandbox: Sandbox): string {
  const runs = join(sandbox.root, "state", "jailed", "runs");
  return readdirSync(runs)
    .map((file) => readFileSync(join(runs, file), "utf8"))
    .join("");
}

/** The entries of the sandbox's newest audit log (its last run's). */
export function latestAuditEntries(sandbox: Sandbox): Record<string, unknown>[] {
  const runs = join(sandbox.root, "state", "jailed", "runs");
  const newest = readdirSync(runs).sort().at(-1) as string;
  return readFileSync(join(runs, newest), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A secret on the host, outside the jail's reach (not in home, not in the project), readable by the runner. */
export function hostSecret(sandbox: Sandbox, runner: Runner, value: string): string {
  const secret = join(sandbox.root, "secret");
  writeFileSync(secret, `${value}\n`, { mode: 0o600 });
  if (runner.uid !== null) chownSync(secret, runner.uid, runner.uid);
  return secret;
}

/** The run's environment that points `hosts` at the fake API and makes the proxy trust its CA. */
export function fakeApiEnv(
  sandbox: Sandbox,
  api: Upstream,
  hosts: readonly string[],
): Record<string, string> {
  const caFile = join(sandbox.root, "api-ca.pem");
  writeFileSync(caFile, api.caPem);
  const upstream = { address: "127.0.0.1", port: api.port };
  return {
    XDG_STATE_HOME: join(sandbox.root, "state"),
    JAILED_TEST_UPSTREAM_CA: caFile,
    JAILED_TEST_UPSTREAMS: JSON.stringify(
      Object.fromEntries(hosts.map((host) => [host, upstream])),
    ),
  };
}
