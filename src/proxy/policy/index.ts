export {
  type CompiledPolicy,
  type CompiledRule,
  compilePolicy,
  DEFAULT_PORTS,
  PolicyError,
} from "./compile.js";
export {
  type ConnectDecision,
  type Decision,
  decide,
  decideConnect,
  type RequestFacts,
} from "./decide.js";
export {
  type Attempt,
  allowHint,
  type Denial,
  type DenyReason,
  describeRule,
  explainHostMismatch,
  explainPolicyDenial,
  explainRefusedAddress,
} from "./explain.js";
export { normalizeHost, parseHostPattern } from "./host.js";
export { compilePathPattern, normalizePath } from "./path.js";
