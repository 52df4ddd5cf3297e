import { createECDH, createPrivateKey, type KeyObject, randomBytes } from "node:crypto";
import { buildCertificate, ecPrivateKeyDer, keyIdentifier, toPem } from "./certificate.js";

/**
 * The run's CA, made before the jail starts (its certificate goes into the jail's trust bundle), and
 * the leaf certificates it issues. node:crypto only: the TLS half (authority.ts) loads after the jail
 * has started. The CA's key lives only in this object, never on disk.
 */
export interface RunCa {
  /** The CA certificate, for the jail's trust bundle. */
  certPem: string;
  /** The one key of every leaf certificate, as PEM: a key pair per host would cost more and protect nothing. */
  leafKeyPem(): string;
  /** `host`'s leaf certificate, from a cache of recently used ones. */
  leafPem(host: string): string;
}

const VALIDITY_MS = 397 * 24 * 3600 * 1000; // the longest validity clients accept for a leaf
const BACKDATE_MS = 3600 * 1000; // tolerate a client clock a little behind
/**
 * Leaf certificates kept, as PEM (~0.8 KB each): more hosts than a run usually talks to. The least
 * recently used goes first and is issued again (~0.2 ms) when needed.
 */
const LEAF_CACHE_SIZE = 256;

interface KeyPair {
  /** The public key, an uncompressed P-256 point. */
  point: Buffer;
  privatePem: string;
  /** The same private key, to sign with. */
  privateKey: KeyObject;
}

/**
 * A P-256 key pair made from ECDH's numbers. Not generateKeyPairSync: on node 20, a garbage
 * collection while a key it made is exported (KeyObject.export holds the key's lock) can finalise
 * the job that made the key, whose destructor takes the same lock, and the process hangs for good.
 * A wrapper's build hung so, warming the runtime up (~KeyGenJob in ExportJWKEcKey). Keys made this
 * way have no such job, and nothing here exports a key: the point and the PEM come from the numbers.
 */
function newKeyPair(): KeyPair {
  const ecdh = createECDH("prime256v1");
  const point = ecdh.generateKeys();
  const privatePem = toPem("EC PRIVATE KEY", ecPrivateKeyDer(ecdh.getPrivateKey(), point));
  return { point, privatePem, privateKey: createPrivateKey(privatePem) };
}

/** Positive 16-byte serial: the top bit clear, the next set so the length is fixed. */
function serialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  return serial;
}

export function createRunCa(now = new Date()): RunCa {
  const caKeys = newKeyPair();
  const caKeyId = keyIdentifier(caKeys.point);
  const caName = `jailed run CA ${caKeyId.toString("hex").slice(0, 12)}`;
  const notAfter = new Date(now.getTime() + VALIDITY_MS);
  const certPem = toPem(
    "CERTIFICATE",
    buildCertificate(
      {
        serial: serialNumber(),
        issuerName: caName,
        issuerKeyId: caKeyId,
        subjectName: caName,
        publicKey: caKeys.point,
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter,
        profile: { kind: "ca" },
      },
      caKeys.privateKey,
    ),
  );
  // Made on first use: a run that never opens a tunnel never needs it.
  let leafKeys: KeyPair | undefined;
  const leafKeyPair = () => {
    leafKeys ??= newKeyPair();
    return leafKeys;
  };
  const leafPems = new Map<string, string>();

  const issue = (host: string): string =>
    toPem(
      "CERTIFICATE",
      buildCertificate(
        {
          serial: serialNumber(),
          issuerName: caName,
          issuerKeyId: caKeyId,
          subjectName: host,
          publicKey: leafKeyPair().point,
          notBefore: new Date(Date.now() - BACKDATE_MS),
          notAfter,
          profile: { kind: "server", host },
        },
        caKeys.privateKey,
      ),
    );

  return {
    certPem,
    leafKeyPem: () => leafKeyPair().privatePem,
    leafPem(host) {
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
    },
  };
}
