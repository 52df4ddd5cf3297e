/**
 * Writes nix/agents/*.nix and the README's agent table from agents/*.ts. `--check` writes nothing and
 * fails when a committed file differs from what the specs give.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agents } from "../../agents/index.js";
import { agentNixFiles } from "./agent-nix.js";
import { printNix } from "./nix/print.js";
import { agentTable, withAgentTable } from "./readme-table.js";

const root = join(import.meta.dirname, "..", "..");

function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, text] of agentNixFiles(agents, printNix))
    files.set(join("nix", "agents", name), text);
  const readme = readFileSync(join(root, "README.md"), "utf8");
  files.set("README.md", withAgentTable(readme, agentTable(agents)));
  return files;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

const files = generatedFiles();
const leftovers = readdirSync(join(root, "nix", "agents"))
  .map((name) => join("nix", "agents", name))
  .filter((name) => !files.has(name));

if (process.argv.includes("--check")) {
  const stale = [...files]
    .filter(([name, text]) => readOrNull(join(root, name)) !== text)
    .map(([name]) => name);
  if (stale.length + leftovers.length > 0) {
    console.error(
      `stale generated files (run npm run generate): ${[...stale, ...leftovers].join(", ")}`,
    );
    process.exit(1);
  }
} else {
  for (const name of leftovers) rmSync(join(root, name));
  for (const [name, text] of files) writeFileSync(join(root, name), text);
}
