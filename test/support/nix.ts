import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "..", "..");

/** Debian's nix-bin works offline with flakes on and no substituters. */
export const nixEnv = {
  ...process.env,
  NIX_CONFIG: "experimental-features = nix-command flakes\nsubstituters =\nwarn-dirty = false",
};

/** A Nix expression with `pkgs` (the offline stand-in) and `jailedLib` in scope. */
export function withJailedLib(body: string): string {
  return `let
    pkgs = import ${repoRoot}/test/hostpkgs { };
    jailedLib = import ${repoRoot}/nix/lib.nix { inherit pkgs; };
  in ${body}`;
}

function nix(command: string, args: string[]): string {
  return execFileSync(command, args, {
    cwd: repoRoot,
    env: nixEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  }).trim();
}

export function nixBuild(expr: string): string {
  return nix("nix-build", ["--no-out-link", "-E", expr]);
}

export function nixEvalJson(expr: string): unknown {
  return JSON.parse(nix("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr]));
}

/** Evaluates an expression that must throw; returns Nix's error text. */
export function nixEvalError(expr: string): string {
  try {
    nix("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr]);
  } catch (error) {
    return String((error as { stderr?: string }).stderr);
  }
  throw new Error(`expected evaluation to fail: ${expr}`);
}

const againstHostpkgs = [
  "--no-write-lock-file",
  "--override-input",
  "nixpkgs",
  `path:${repoRoot}/test/hostpkgs`,
];

/** Builds a flake output of this repo against test/hostpkgs, as the README does. */
export function buildFlakeOutput(attr: string): string {
  const built = JSON.parse(
    nix("nix", ["build", "--no-link", "--json", ...againstHostpkgs, `${repoRoot}#${attr}`]),
  ) as { outputs: { out: string } }[];
  return (built[0] as { outputs: { out: string } }).outputs.out;
}

/** Evaluates a flake output of this repo against test/hostpkgs, optionally through `apply`. */
export function evalFlakeJson(attr: string, apply?: string): unknown {
  const applyArgs = apply === undefined ? [] : ["--apply", apply];
  return JSON.parse(
    nix("nix", ["eval", "--json", ...againstHostpkgs, ...applyArgs, `${repoRoot}#${attr}`]),
  );
}

export function closureOf(paths: readonly string[]): string[] {
  return nix("nix-store", ["-qR", ...paths])
    .split("\n")
    .sort();
}

/** The JailConfig file a wrapper's launcher hands the runtime. */
export function configFileOf(wrapperBin: string): string {
  const match = /"--config","([^"]+)"/.exec(readFileSync(wrapperBin, "utf8"));
  if (match?.[1] === undefined) throw new Error(`no --config in ${wrapperBin}`);
  return match[1];
}
