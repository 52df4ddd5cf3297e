import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { HARDENING_PROFILES, type Hardening } from "../spec/hardening.js";
import { type RunRequest, runConfig } from "./cli-config.js";
import { readJailConfig } from "./config.js";
import { JailSetupError } from "./errors.js";
import { applyOverrides } from "./overrides.js";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function nix(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        NIX_CONFIG: `experimental-features = nix-command flakes\n${process.env.NIX_CONFIG ?? ""}`,
      },
    });
  } catch (error) {
    const cause =
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? "nix is not on PATH"
        : "it failed (see above)";
    throw new JailSetupError(
      `cannot resolve the -p packages: ${command} ${args.join(" ")}: ${cause}`,
    );
  }
}

/** `-p` takes a nixpkgs attribute (built from the --nixpkgs flake) or a store path as it is. */
function buildPackages(packages: readonly string[], nixpkgs: string): string[] {
  const attrs = packages.filter((pkg) => !pkg.startsWith("/nix/store/"));
  const built =
    attrs.length === 0
      ? []
      : (
          JSON.parse(
            nix("nix", [
              "build",
              "--no-link",
              "--json",
              ...attrs.map((attr) => `${nixpkgs}#${attr}`),
            ]),
          ) as { outputs: { out: string } }[]
        ).map((result) => result.outputs.out);
  return [...packages.filter((pkg) => pkg.startsWith("/nix/store/")), ...built];
}

function closure(paths: readonly string[]): string[] {
  if (paths.length === 0) return [];
  return nix("nix-store", ["-qR", ...paths])
    .split("\n")
    .filter(Boolean);
}

async function parseRun(argv: readonly string[]): Promise<RunRequest & { nixpkgs: string }> {
  const { default: yargs } = await import("yargs");
  const parsed = await yargs([...argv])
    .scriptName("jailed")
    .usage("$0 run [options] -- COMMAND [ARGS…]")
    .command("run", "run COMMAND in a jail holding only the given packages' closure")
    .demandCommand(1, 1)
    .parserConfiguration({ "populate--": true })
    .option("package", {
      alias: "p",
      type: "string",
      array: true,
      default: [],
      describe: "nixpkgs attribute or store path to put in the jail and on PATH",
    })
    .option("allow-host", {
      type: "string",
      array: true,
      default: [],
      describe: "allow HTTP(S) to exactly this host (or host:port)",
    })
    .option("policy", {
      type: "string",
      describe: "policy file (TOML: ours or nix-jail's); its rules come before --allow-host's",
    })
    .option("network", {
      choices: ["proxy", "none"] as const,
      default: "proxy" as const,
      describe: "none: no network at all",
    })
    .option("rw", {
      type: "string",
      array: true,
      default: [],
      describe: "bind a host path read-write",
    })
    .option("ro", {
      type: "string",
      array: true,
      default: [],
      describe: "bind a host path read-only",
    })
    .option("env", {
      type: "string",
      array: true,
      default: [],
      describe: "set NAME=VALUE in the jail",
    })
    .option("fwd-env", {
      type: "string",
      array: true,
      default: [],
      describe: "forward NAME from the host when set",
    })
    .option("hardening", { choices: HARDENING_PROFILES, describe: "seccomp profile" })
    .option("nixpkgs", {
      type: "string",
      default: "nixpkgs",
      describe: "flake to build -p attributes from",
    })
    .strict()
    .fail((message, error) => {
      throw error ?? new JailSetupError(message);
    })
    .help()
    .parseAsync();
  if (parsed._[0] !== "run")
    throw new JailSetupError(`unknown command ${String(parsed._[0])}; try jailed run --help`);
  return {
    packages: parsed.package,
    allowHosts: parsed["allow-host"],
    policyFile: parsed.policy ?? null,
    network: parsed.network,
    rw: parsed.rw,
    ro: parsed.ro,
    env: parsed.env,
    fwdEnv: parsed["fwd-env"],
    hardening: parsed.hardening as Hardening | undefined,
    command: ((parsed["--"] ?? []) as (string | number)[]).map(String),
    nixpkgs: parsed.nixpkgs,
  };
}

/** `jailed run …`: the CLI's base config (from its Nix build) plus the request, then a jail. */
export async function runCli(basePath: string, argv: readonly string[]): Promise<number> {
  const request = await parseRun(argv);
  const base = applyOverrides(readJailConfig(basePath), process.env);
  const packages = buildPackages(request.packages, request.nixpkgs);
  const config = runConfig(base, { ...request, packages }, process.cwd(), isExecutable);
  const { runLinuxJail } = await import("./linux/run.js");
  return runLinuxJail(config, [], closure(packages));
}
