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

const pointer = v.pipe(v.string(), v.regex(/^\//, "must be a JSON pointer (start with /)"));

/**
 * An OAuth login kept in the credentials file the access token comes from. The jail's copy holds
 * dummies for both tokens; the proxy puts the real refresh token into requests to `tokenUrls`,
 * turns the tokens those answer with into fresh dummies, and saves the new real ones to the file.
 */
export const OAuthSchema = v.strictObject({
  /** The refresh token in the file. */
  refreshPointer: pointer,
  /** The access token's expiry in the file, milliseconds since the epoch; kept up to date. */
  expiresAtPointer: v.nullable(pointer),
  /** The token endpoints refresh requests go to: `https://host/path`. */
  tokenUrls: v.pipe(
    v.array(
      v.pipe(v.string(), v.regex(/^https:\/\/[^/?#]+\/[^?#]*$/, "must be https://host/path")),
    ),
    v.minLength(1),
  ),
});
export type OAuth = v.InferOutput<typeof OAuthSchema>;

/** A credential by reference: never a secret value, only where to find one and where it may go. */
export const CredentialSchema = v.pipe(
  v.strictObject({
    hosts: v.pipe(v.array(v.string()), v.minLength(1)),
    header: v.string(),
    format: v.pipe(v.string(), v.includes("{token}")),
    source: CredentialSourceSchema,
    /** Env var inside the jail that holds the dummy. */
    sandboxEnv: v.nullable(v.string()),
    /** Path inside the jail (`~/…` allowed) that holds a dummy copy of a credentials file. */
    sandboxFile: v.nullable(v.string()),
    oauth: v.optional(OAuthSchema),
  }),
  v.check(
    (credential) =>
      credential.oauth === undefined ||
      (credential.source.type === "file" && credential.source.pointer !== null),
    "oauth needs a file source with a pointer to the access token",
  ),
);
export type Credential = v.InferOutput<typeof CredentialSchema>;
