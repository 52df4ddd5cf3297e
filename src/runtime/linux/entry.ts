/** A word bash reads back as exactly `value`: single-quoted, each `'` closed, escaped and reopened. */
export function shellWord(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * argv of the jail's first process: one bash that runs each step's lines in order and then execs the
 * agent, so the agent keeps the pid (signals still reach it) and the steps together cost one shell's
 * start (~2 ms each here) instead of one each. Bash builtins only: the closure may hold nothing else.
 */
export function jailEntry(sh: string, steps: readonly string[], argv: readonly string[]): string[] {
  return [sh, "-c", [...steps, 'exec "$@"'].join("\n"), "jailed", ...argv];
}
