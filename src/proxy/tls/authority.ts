import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import { buildCertificate, keyIdentifier, toPem } from "./certificate.js";

/** The run's CA: its key lives only in this object, never on disk. */
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

const VALIDITY_MS = 397 * 24 * 3600 * 1000; // the longest validity clients accept for a leaf
const BACKDATE_MS = 3600 * 1000; // tolerate a client clock a little behind
/**
 * Leaf certificates kept, as PEM (~0.8 KB each): more hosts than a run usually talks to. The least
 * recently used goes first and is issued again (~0.2 ms) when needed.
 */
const LEAF_CACHE_SIZE = 256;

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
  const leafPems = new Map<string, string>();

  const issue = (host: string): string =>
    toPem(
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

  const leafPem = (host: string): string => {
    const cached = leafPems.get(host);
    if (cached !== undefined) {
      leafPems.delete(host);
      leafPems.set(host, cached);
      return cached;
    }
    const pem = issue(host);
    leafPems.set(host, pem);
    const [oldest] = leafPems.keys();
    if (leafPems.size > LEAF_CACHE_SIZE && oldest !== undefined) leafPems.delete(oldest);
    return pem;
  };

  // One context for all hosts. A context per host cost ~1 ms to make (OpenSSL 3 parses the PEM
  // key and certificate slowly) and ~30 KB to keep; swapping the certificate in costs ~0.3 ms.
  // `ca: []`: a server context verifies no peer, so it skips Node's root store (building that
  // store on first use costs ~35 ms).
  let context: SecureContext | undefined;
  let presenting: string | undefined;

  return {
    certPem,
    contextFor(host) {
      if (host === presenting && context !== undefined) return context;
      const cert = leafPem(host);
      if (context === undefined) {
        const key = leafKeys.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
        context = createSecureContext({ key, cert, ca: [] });
      } else {
        context.context.setCert(cert);
      }
      presenting = host;
      return context;
    },
  };
}
