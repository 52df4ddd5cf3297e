export { type Arch, AUDIT_ARCH } from "./abi.js";
export { buildSeccompFilter, hostArch } from "./compile.js";
export { disassemble } from "./disassemble.js";
export { type Action, evaluate, type SeccompData, type Verdict } from "./evaluate.js";
