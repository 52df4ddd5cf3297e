import type { Hardening } from "../../../spec/hardening.js";
import type { Arch } from "./abi.js";
import { buildSeccompFilter } from "./compile.js";

/**
 * The filter a run loads. It depends only on (profile, architecture), so the runtime bundle replaces
 * this module with the bytes computed when bundling (scripts/bundle.ts, `prebuiltSeccompModule`): a
 * wrapper then neither loads nor runs the compiler, which took 2–3.5 ms of each start.
 */
export function seccompFilter(profile: Hardening, arch: Arch): Uint8Array {
  return buildSeccompFilter(profile, arch);
}
