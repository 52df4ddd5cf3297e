/**
 * A failure the user must fix before anything runs: bad config, missing bubblewrap, unusable namespaces.
 * The runtime prints the message and exits 2; nothing starts half-protected.
 */
export class JailSetupError extends Error {
  override readonly name = "JailSetupError";
}

export const SETUP_EXIT_CODE = 2;
