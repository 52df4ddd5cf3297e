import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { agents } from "../../agents/index.js";
import { githubCredential } from "../../agents/lib/github.js";
import { packageName } from "../../src/generator/agent-nix.js";
import type { AgentCredential, AgentSpec } from "../../src/spec/agent.js";

const AGENTS_DIR = new URL("../../agents/", import.meta.url);
const ID = /^[a-z][a-z0-9-]*$/;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})+$`);
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const SOURCE_KINDS = ["env", "file", "command"] as const;
// node and bun JIT-compile, which needs writable-executable memory.
const JIT_AGENTS = ["claude-code", "gemini-cli", "opencode"];

const eachAgent = agents.map((agent) => [agent.id, agent] as const);
const eachCredential = agents.flatMap((agent) =>
  Object.entries(agent.credentials).map(
    ([name, cred]) => [`${agent.id}/${name}`, agent, cred] as const,
  ),
);

function isHttpsUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" && HOSTNAME.test(url.hostname) && url.href === text;
  } catch {
    return false;
  }
}

function sources(agent: AgentSpec): string[] {
  return agent.hosts.map((h) => h.source).concat(agent.homepage);
}

function sourceKinds(cred: AgentCredential): string[] {
  return SOURCE_KINDS.filter((kind) => kind in cred.source);
}

async function specsExportedByAgentFiles(): Promise<AgentSpec[]> {
  const files = readdirSync(AGENTS_DIR).filter((f) => f.endsWith(".ts") && f !== "index.ts");
  const modules = await Promise.all(files.map((f) => import(new URL(f, AGENTS_DIR).href)));
  return modules.flatMap((m: Record<string, AgentSpec>) => Object.values(m));
}

describe("agent specs", () => {
  it("lists every spec the agent files export, each once", async () => {
    const exported = await specsExportedByAgentFiles();
    expect(new Set(agents)).toEqual(new Set(exported));
    expect(agents).toHaveLength(exported.length);
  });

  it("gives each agent a unique, valid id", () => {
    const ids = agents.map((a) => a.id);
    for (const id of ids) expect(id).toMatch(ID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("names each wrapper after its agent's command, each name once", () => {
    const names = agents.map(packageName);
    for (const agent of agents) expect(agent.command).toMatch(ID);
    expect(names).toContain("jailed-claude");
    expect(names).toContain("jailed-gemini");
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(eachAgent)("%s names hosts as lowercase hostnames, each once", (_, agent) => {
    const hosts = agent.hosts.map((h) => h.host);
    for (const host of hosts) expect(host).toMatch(HOSTNAME);
    expect(new Set(hosts).size).toBe(hosts.length);
    for (const need of agent.hosts) expect(need.why.trim()).not.toBe("");
  });

  it.each(eachAgent)("%s cites https sources and homepage", (_, agent) => {
    for (const source of sources(agent)) expect(isHttpsUrl(source), source).toBe(true);
  });

  it.each(eachAgent)("%s keeps config paths under ~/ without '..'", (_, agent) => {
    for (const path of agent.configPaths) {
      expect(path).toMatch(/^~\/[^/]/);
      expect(path.split("/")).not.toContain("..");
    }
    expect(new Set(agent.configPaths).size).toBe(agent.configPaths.length);
  });

  it.each(eachAgent)("%s sets only well-formed, non-empty env vars", (_, agent) => {
    for (const [name, value] of Object.entries(agent.env)) {
      expect(name).toMatch(ENV_NAME);
      expect(value).not.toBe("");
    }
  });

  it.each(eachAgent)("%s uses the hardening profile its runtime allows", (_, agent) => {
    expect(agent.hardening).toBe(JIT_AGENTS.includes(agent.id) ? "jit-runtime" : "default");
  });

  it.each(eachCredential)(
    "%s has a valid name and goes only to its agent's hosts (GitHub's: once the user allows them)",
    (id, agent, cred) => {
      expect(id.split("/")[1]).toMatch(ID);
      expect(cred.hosts.length).toBeGreaterThan(0);
      const hosts = [...agent.hosts.map((h) => h.host), ...githubCredential.hosts];
      for (const host of cred.hosts) expect(hosts).toContain(host);
    },
  );

  it("allows no GitHub host by default, though every agent carries the GitHub credential", () => {
    for (const agent of agents) {
      expect(agent.credentials.github).toBe(githubCredential);
      for (const host of githubCredential.hosts) {
        expect(agent.hosts.map((h) => h.host)).not.toContain(host);
      }
    }
  });

  it.each(eachCredential)(
    "%s has exactly one source kind and a place in the jail",
    (_, __, cred) => {
      expect(sourceKinds(cred)).toHaveLength(1);
      expect(cred.sandboxEnv !== undefined || cred.sandboxFile !== undefined).toBe(true);
      if (cred.sandboxEnv !== undefined) expect(cred.sandboxEnv).toMatch(ENV_NAME);
      if (cred.format !== undefined) expect(cred.format).toContain("{token}");
      if (cred.header !== undefined) expect(cred.header).toMatch(/^[a-z0-9-]+$/);
    },
  );
});
