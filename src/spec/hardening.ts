import * as v from "valibot";

/** `jit-runtime` allows what node and bun need; `strict` adds W^X, which JIT runtimes cannot live with. */
export const HARDENING_PROFILES = ["default", "jit-runtime", "strict"] as const;
export const HardeningSchema = v.picklist(HARDENING_PROFILES);
export type Hardening = v.InferOutput<typeof HardeningSchema>;
