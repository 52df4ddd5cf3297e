import type { AgentSpec } from "../src/spec/agent.js";
import { claudeCode } from "./claude-code.js";
import { codex } from "./codex.js";
import { crush } from "./crush.js";
import { geminiCli } from "./gemini-cli.js";
import { goose } from "./goose.js";
import { opencode } from "./opencode.js";

/** Every agent jailed ships a wrapper for, in the order the docs and generated files list them. */
export const agents: readonly AgentSpec[] = [claudeCode, codex, geminiCli, opencode, crush, goose];
