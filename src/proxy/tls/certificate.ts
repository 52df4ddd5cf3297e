import { createHash, type KeyObject, sign } from "node:crypto";
import { addressBytes, ipFamily } from "../address.js";
import {
  bitString,
  boolean,
  contextTag,
  octetString,
  objectIdentifier as oid,
  sequence,
  set,
  time,
  unsignedInteger,
  utf8String,
} from "./der.js";

// X.509 v3 certificates for ECDSA P-256 keys, signed with node:crypto. Only what a CA and a TLS
// server certificate need.

// Encoded once: every certificate repeats them.
const OID = {
  ecdsaWithSha256: oid("1.2.840.10045.4.3.2"),
  ecPublicKey: oid("1.2.840.10045.2.1"),
  prime256v1: oid("1.2.840.10045.3.1.7"),
  commonName: oid("2.5.4.3"),
  organization: oid("2.5.4.10"),
  subjectKeyIdentifier: oid("2.5.29.14"),
  keyUsage: oid("2.5.29.15"),
  subjectAltName: oid("2.5.29.17"),
  basicConstraints: oid("2.5.29.19"),
  authorityKeyIdentifier: oid("2.5.29.35"),
  extKeyUsage: oid("2.5.29.37"),
  serverAuth: oid("1.3.6.1.5.5.7.3.1"),
};

/** Distinguished name `O=jailed, CN=…`; the CN is left out when longer than X.520 allows (64). */
function name(commonName: string): Buffer {
  const attribute = (type: Buffer, value: string) => set(sequence(type, utf8String(value)));
  const rdns = [attribute(OID.organization, "jailed")];
  if (commonName.length <= 64) rdns.push(attribute(OID.commonName, commonName));
  return sequence(...rdns);
}

function extension(id: Buffer, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(id, boolean(true), octetString(value))
    : sequence(id, octetString(value));
}

/** The length of a P-256 public key as an uncompressed point (0x04 ‖ x ‖ y), and of its private scalar. */
const POINT_BYTES = 65;
const SCALAR_BYTES = 32;

function checkedPoint(point: Buffer): Buffer {
  if (point.length !== POINT_BYTES || point[0] !== 4) {
    throw new Error("certificates here carry ECDSA P-256 keys, as uncompressed points, only");
  }
  return point;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(point: Buffer): Buffer {
  return createHash("sha1").update(checkedPoint(point)).digest();
}

/**
 * DER of a P-256 private key as SEC 1 (RFC 5915) holds it: the scalar `d` (big-endian; ECDH drops
 * its leading zero bytes, SEC 1 wants all 32), the curve, the point.
 */
export function ecPrivateKeyDer(d: Buffer, point: Buffer): Buffer {
  if (d.length > SCALAR_BYTES) throw new Error(`a P-256 private key has ${SCALAR_BYTES} bytes`);
  return sequence(
    unsignedInteger(Buffer.of(1)),
    octetString(Buffer.concat([Buffer.alloc(SCALAR_BYTES - d.length), d])),
    contextTag(0, OID.prime256v1, true),
    contextTag(1, bitString(checkedPoint(point)), true),
  );
}

/** dNSName [2] for a host name, iPAddress [7] (4 or 16 bytes) for an IP address. */
function subjectAltName(host: string): Buffer {
  return ipFamily(host) === 0
    ? contextTag(2, Buffer.from(host, "ascii"), false)
    : contextTag(7, addressBytes(host), false);
}

export interface CertificateFields {
  /** Positive, at most 20 bytes. */
  serial: Buffer;
  issuerName: string;
  issuerKeyId: Buffer;
  subjectName: string;
  /** The subject's P-256 public key, an uncompressed point (0x04 ‖ x ‖ y). */
  publicKey: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** A CA that signs leaves only, or a TLS server certificate for one host name or IP address. */
  profile: { kind: "ca" } | { kind: "server"; host: string };
}

/** DER of an X.509 v3 certificate with `fields`, signed by `issuerKey` (ECDSA with SHA-256). */
export function buildCertificate(fields: CertificateFields, issuerKey: KeyObject): Buffer {
  const signatureAlgorithm = sequence(OID.ecdsaWithSha256);
  const point = checkedPoint(fields.publicKey);
  const keyIds = [
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(point))),
    extension(
      OID.authorityKeyIdentifier,
      false,
      sequence(contextTag(0, fields.issuerKeyId, false)),
    ),
  ];
  const extensions =
    fields.profile.kind === "ca"
      ? [
          // CA:TRUE, pathLenConstraint 0: it signs leaves, never other CAs.
          extension(
            OID.basicConstraints,
            true,
            sequence(boolean(true), unsignedInteger(Buffer.of(0))),
          ),
          // keyCertSign (bit 5) and cRLSign (bit 6).
          extension(OID.keyUsage, true, bitString(Buffer.of(0x06), 1)),
          ...keyIds,
        ]
      : [
          extension(OID.basicConstraints, true, sequence()),
          // digitalSignature (bit 0): all an ECDHE-ECDSA server key does.
          extension(OID.keyUsage, true, bitString(Buffer.of(0x80), 7)),
          extension(OID.extKeyUsage, false, sequence(OID.serverAuth)),
          extension(OID.subjectAltName, false, sequence(subjectAltName(fields.profile.host))),
          ...keyIds,
        ];
  const tbs = sequence(
    contextTag(0, unsignedInteger(Buffer.of(2)), true), // version v3
    unsignedInteger(fields.serial),
    signatureAlgorithm,
    name(fields.issuerName),
    sequence(time(fields.notBefore), time(fields.notAfter)),
    name(fields.subjectName),
    sequence(sequence(OID.ecPublicKey, OID.prime256v1), bitString(point)),
    contextTag(3, sequence(...extensions), true),
  );
  return sequence(tbs, signatureAlgorithm, bitString(sign("sha256", tbs, issuerKey)));
}

/** PEM of `der` under `label`: CERTIFICATE, EC PRIVATE KEY. */
export function toPem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
