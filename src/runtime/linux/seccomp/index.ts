export { ARCHES, type Arch, AUDIT_ARCH, hostArch } from "./abi.js";
export { buildSeccompFilter } from "./compile.js";
export { disassemble } from "./disassemble.js";
export { type Action, evaluate, type SeccompData, type Verdict } from "./evaluate.js";
