import * as v from "valibot";

/** One policy rule. Rules are ordered; the first that matches decides; no match means deny. */
export const RuleSchema = v.strictObject({
  action: v.picklist(["allow", "deny"]),
  /** Exact host (case-insensitive, trailing dot and IDN normalised), `*.domain`, or `/regex/` (anchored). */
  host: v.pipe(v.string(), v.minLength(1)),
  /** Glob (`*` within a segment, `**` across) or `/regex/`, anchored, on the normalised path. */
  path: v.optional(v.string()),
  methods: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Z]+$/, "methods are upper case")))),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  credential: v.optional(v.string()),
  tls: v.optional(v.picklist(["inspect", "passthrough"])),
});
export type Rule = v.InferOutput<typeof RuleSchema>;

/** `none`: an empty network namespace and no proxy. `proxy`: the per-run proxy enforces `rules`. */
export const NetworkSchema = v.variant("mode", [
  v.strictObject({ mode: v.literal("none") }),
  v.strictObject({
    mode: v.literal("proxy"),
    rules: v.array(RuleSchema),
    policyFile: v.nullable(v.string()),
  }),
]);
export type Network = v.InferOutput<typeof NetworkSchema>;
