import { readJailConfig } from "./config.js";
import { JailSetupError, SETUP_EXIT_CODE } from "./errors.js";
import { applyOverrides } from "./overrides.js";

const USAGE = "usage: jailed --config <jail.json> -- [agent arguments…]";

/** Wrapper mode: `--config FILE -- ARGS`; everything after `--` belongs to the agent, untouched. */
function parseWrapperArgv(argv: readonly string[]): { configPath: string; args: string[] } {
  const separator = argv.indexOf("--");
  const own = separator === -1 ? argv : argv.slice(0, separator);
  if (own.length !== 2 || own[0] !== "--config" || own[1] === undefined) {
    throw new JailSetupError(USAGE);
  }
  return { configPath: own[1], args: separator === -1 ? [] : argv.slice(separator + 1) };
}

async function run(argv: readonly string[]): Promise<number> {
  // The jailed CLI's own wrapper passes `--cli <its base config>` before the user's arguments.
  if (argv[0] === "--cli" && argv[1] !== undefined) {
    const { runCli } = await import("./cli.js");
    return runCli(argv[1], argv.slice(2));
  }
  const { configPath, args } = parseWrapperArgv(argv);
  const config = applyOverrides(readJailConfig(configPath), process.env);
  if (process.platform !== "linux") {
    throw new JailSetupError(
      `jailed runs jails on Linux only for now (this is ${process.platform})`,
    );
  }
  const { runLinuxJail } = await import("./linux/run.js");
  return runLinuxJail(config, args);
}

/**
 * Run by a launcher's build with the launcher's own arguments, before it writes the V8 code cache
 * (load.ts): a start's steps that decide and write nothing (run.ts, warmUpLinuxJail), so that the
 * cache holds them compiled. The jailed CLI's base config is planned as a wrapper's config would be:
 * its runs go through the same code.
 */
export async function warmUp(argv: readonly string[]): Promise<void> {
  const configPath =
    argv[0] === "--cli" && argv[1] !== undefined ? argv[1] : parseWrapperArgv(argv).configPath;
  const config = applyOverrides(readJailConfig(configPath), {});
  if (process.platform !== "linux") return;
  const { warmUpLinuxJail } = await import("./linux/run.js");
  await warmUpLinuxJail(config, []);
}

/**
 * A start, called by the launchers nix/lib.nix writes: a node script that passes `--config
 * <jail.json> -- ARGS` (or `--cli <base config> ARGS`) here. Being node's main script itself,
 * rather than a shell that execs node, saves a shell's start on every run.
 */
export function main(argv: readonly string[]): void {
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const message =
        error instanceof JailSetupError
          ? error.message
          : `internal error: ${(error as Error).stack}`;
      process.stderr.write(`jailed: ${message}\n`);
      process.exitCode = SETUP_EXIT_CODE;
    },
  );
}
