import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import { buildCertificate, keyIdentifier, toPem } from "./certificate.js";

/** The run's CA: its key lives only in this object, never on disk. */
export interface CertificateAuthority {
  /** The CA certificate, for the jail's trust bundle. */
  certPem: string;
  /** A TLS server context for `host` (normalised), made on first use and then cached. */
  contextFor(host: string): SecureContext;
}

const VALIDITY_MS = 397 * 24 * 3600 * 1000; // the longest validity clients accept for a leaf
const BACKDATE_MS = 3600 * 1000; // tolerate a client clock a little behind
/**
 * More than the hosts a run usually talks to; the least recently used context goes first and is
 * remade (~2 ms) when needed again. Each holds ~35 KB of native memory.
 */
const CONTEXT_CACHE_SIZE = 100;

function newKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

/** Positive 16-byte serial: the top bit clear, the next set so the length is fixed. */
function serialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  return serial;
}

export function createCertificateAuthority(now = new Date()): CertificateAuthority {
  const caKeys = newKeyPair();
  const caKeyId = keyIdentifier(caKeys.publicKey);
  const caName = `jailed run CA ${caKeyId.toString("hex").slice(0, 12)}`;
  const notAfter = new Date(now.getTime() + VALIDITY_MS);
  const certPem = toPem(
    buildCertificate(
      {
        serial: serialNumber(),
        issuerName: caName,
        issuerKeyId: caKeyId,
        subjectName: caName,
        publicKey: caKeys.publicKey,
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter,
        profile: { kind: "ca" },
      },
      caKeys.privateKey,
    ),
  );
  // One key for every leaf of the run: a key pair per host would cost more and protect nothing.
  const leafKeys = newKeyPair();
  const leafKeyPem = leafKeys.privateKey.export({ type: "sec1", format: "pem" }) as string;
  const contexts = new Map<string, SecureContext>();

  const issue = (host: string): SecureContext => {
    const leafPem = toPem(
      buildCertificate(
        {
          serial: serialNumber(),
          issuerName: caName,
          issuerKeyId: caKeyId,
          subjectName: host,
          publicKey: leafKeys.publicKey,
          notBefore: new Date(Date.now() - BACKDATE_MS),
          notAfter,
          profile: { kind: "server", host },
        },
        caKeys.privateKey,
      ),
    );
    // `ca: []`: a server context verifies no peer, so it skips Node's root store (building that
    // store on first use costs ~35 ms).
    return createSecureContext({ key: leafKeyPem, cert: leafPem, ca: [] });
  };

  return {
    certPem,
    contextFor(host) {
      const cached = contexts.get(host);
      if (cached) {
        contexts.delete(host);
        contexts.set(host, cached);
        return cached;
      }
      const context = issue(host);
      contexts.set(host, context);
      const [oldest] = contexts.keys();
      if (contexts.size > CONTEXT_CACHE_SIZE && oldest !== undefined) {
        // Free its ~35 KB of OpenSSL state now rather than whenever V8 collects the wrapper (which
        // does not see that memory); connections made with it hold their own reference.
        contexts.get(oldest)?.context.close();
        contexts.delete(oldest);
      }
      return context;
    },
  };
}
