import type { AgentSpec } from "../spec/agent.js";
import { functionName, packageName } from "./agent-nix.js";

const START = "<!-- agents:start -->";
const END = "<!-- agents:end -->";

function code(text: string): string {
  return `\`${text}\``;
}

/** The README's agent table: one row per spec. */
export function agentTable(specs: readonly AgentSpec[]): string {
  const rows = specs.map((spec) =>
    [
      `[${spec.displayName}](${spec.homepage})`,
      code(packageName(spec)),
      code(functionName(spec.id)),
      code(`pkgs.${spec.nixAttr}`) + (spec.unfree ? " (unfree)" : ""),
      spec.hosts.map((need) => code(need.host)).join(", "),
      Object.values(spec.credentials)
        .map((credential) =>
          "env" in credential.source ? code(credential.source.env) : "login file",
        )
        .join(", ") || "none",
      code(spec.hardening),
    ].join(" | "),
  );
  return [
    "| agent | package | function | nixpkgs | hosts allowed | credentials | hardening |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((row) => `| ${row} |`),
  ].join("\n");
}

/** Replaces what stands between the README's agent markers. */
export function withAgentTable(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}
