import { createSecureContext, type SecureContext } from "node:tls";
import { createRunCa, type RunCa } from "./ca.js";

/** The run's CA as TLS servers use it. */
export interface CertificateAuthority {
  /** The CA certificate, for the jail's trust bundle. */
  certPem: string;
  /**
   * A TLS server context that presents `host`'s (normalised) certificate to the connection made
   * with it next: make that connection at once. Every host gets the same context, its certificate
   * swapped in; a connection keeps the certificate it was made with (OpenSSL copies it into each
   * connection).
   */
  contextFor(host: string): SecureContext;
}

/**
 * One context for all hosts. A context per host cost ~1 ms to make (OpenSSL 3 parses the PEM key and
 * certificate slowly) and ~30 KB to keep; swapping the certificate in costs ~0.3 ms. `ca: []`: a
 * server context verifies no peer, so it needs no root store.
 */
export function withHostContexts(ca: RunCa): CertificateAuthority {
  let context: SecureContext | undefined;
  let presenting: string | undefined;
  return {
    certPem: ca.certPem,
    contextFor(host) {
      if (host === presenting && context !== undefined) return context;
      const cert = ca.leafPem(host);
      if (context === undefined) {
        context = createSecureContext({ key: ca.leafKeyPem(), cert, ca: [] });
      } else {
        context.context.setCert(cert);
      }
      presenting = host;
      return context;
    },
  };
}

export function createCertificateAuthority(now = new Date()): CertificateAuthority {
  return withHostContexts(createRunCa(now));
}
