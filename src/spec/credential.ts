import * as v from "valibot";

/** Where the real value comes from. It is read on the host, at run time, by the proxy only. */
export const CredentialSourceSchema = v.variant("type", [
  v.strictObject({ type: v.literal("env"), name: v.pipe(v.string(), v.minLength(1)) }),
  v.strictObject({
    type: v.literal("file"),
    path: v.pipe(v.string(), v.minLength(1)),
    /** RFC 6901 JSON pointer into the file; the whole file (trimmed) when absent. */
    pointer: v.nullable(v.string()),
  }),
  v.strictObject({
    type: v.literal("command"),
    argv: v.pipe(v.array(v.string()), v.minLength(1)),
  }),
]);
export type CredentialSource = v.InferOutput<typeof CredentialSourceSchema>;

/** A credential by reference: never a secret value, only where to find one and where it may go. */
export const CredentialSchema = v.strictObject({
  hosts: v.pipe(v.array(v.string()), v.minLength(1)),
  header: v.string(),
  format: v.pipe(v.string(), v.includes("{token}")),
  source: CredentialSourceSchema,
  /** Env var inside the jail that holds the dummy. */
  sandboxEnv: v.nullable(v.string()),
  /** Path inside the jail (`~/…` allowed) that holds a dummy copy of a credentials file. */
  sandboxFile: v.nullable(v.string()),
});
export type Credential = v.InferOutput<typeof CredentialSchema>;
