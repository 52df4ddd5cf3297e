import { execFileSync } from "node:child_process";
import { createECDH, createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, describe, expect, test } from "vitest";
import {
  type CertificateAuthority,
  createCertificateAuthority,
} from "../../../src/proxy/tls/authority.js";
import { ecPrivateKeyDer, toPem } from "../../../src/proxy/tls/certificate.js";
import {
  contextTag,
  objectIdentifier,
  sequence,
  time,
  tlv,
  unsignedInteger,
} from "../../../src/proxy/tls/der.js";

const dir = mkdtempSync(join(tmpdir(), "jailed-cert-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8" });
}

/** The certificate a TLS client is shown for `host`, served the way the proxy serves it. */
async function served(ca: CertificateAuthority, host: string): Promise<X509Certificate> {
  const server = net.createServer((socket) => {
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: ca.contextFor(host),
    });
    secure.on("error", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  try {
    const client = tls.connect({
      host: "127.0.0.1",
      port,
      ca: ca.certPem,
      // OpenSSL checks the chain; Node checks the name (a DNS or an IP SAN).
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
    });
    await once(client, "secureConnect");
    const certificate = client.getPeerX509Certificate() as X509Certificate;
    client.destroy();
    return certificate;
  } finally {
    server.close();
  }
}

describe("the run's CA", () => {
  const before = Date.now();
  const ca = createCertificateAuthority();
  const cert = new X509Certificate(ca.certPem);

  test("is a self-signed CA valid from a little in the past", () => {
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(before - 3_000_000);
    expect(Date.parse(cert.validTo)).toBeGreaterThan(before + 300 * 86_400_000);
  });

  test("carries the CA extensions", () => {
    const pem = join(dir, "ca.pem");
    writeFileSync(pem, ca.certPem);
    const text = openssl("x509", "-in", pem, "-noout", "-text");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text)?.[1];
    expect(ski).toBeDefined();
    expect(text).toContain(`Authority Key Identifier: \n                ${ski}`);
  });

  test("each run has its own CA", () => {
    expect(createCertificateAuthority().certPem).not.toBe(ca.certPem);
  });
});

describe("leaf certificates", () => {
  const ca = createCertificateAuthority();

  test("a host name gets a serverAuth leaf that OpenSSL and Node accept", async () => {
    const leaf = await served(ca, "api.example.test");
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe("DNS:api.example.test");
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);

    const leafPem = join(dir, "leaf.pem");
    const caPem = join(dir, "ca.pem");
    writeFileSync(leafPem, leaf.toString());
    writeFileSync(caPem, ca.certPem);
    expect(openssl("verify", "-CAfile", caPem, "-purpose", "sslserver", leafPem)).toContain("OK");
    const text = openssl("x509", "-in", leafPem, "-noout", "-text");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature/);
    expect(text).toMatch(/Extended Key Usage: \s+TLS Web Server Authentication/);
  });

  test("an IP address gets an iPAddress SAN", async () => {
    expect((await served(ca, "127.0.0.1")).subjectAltName).toBe("IP Address:127.0.0.1");
  });

  test("a name too long for a CN still gets a certificate", async () => {
    const host = `${"a".repeat(60)}.${"b".repeat(60)}.test`;
    expect((await served(ca, host)).subjectAltName).toBe(`DNS:${host}`);
  });

  test("a host keeps its certificate from one connection to the next", async () => {
    const first = await served(ca, "same.test");
    await served(ca, "other.test");
    expect((await served(ca, "same.test")).serialNumber).toBe(first.serialNumber);
  });

  test("each connection keeps the certificate of its host while the context moves on", async () => {
    // All three server sockets exist (each made right after contextFor) before any handshake.
    const hosts = ["one.test", "two.test", "three.test"];
    const made: tls.TLSSocket[] = [];
    const server = net.createServer((socket) => {
      const secure = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext: ca.contextFor(hosts[made.length] as string),
      });
      secure.on("error", () => socket.destroy());
      made.push(secure);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;
    try {
      const raw: net.Socket[] = [];
      for (const _host of hosts) {
        const socket = net.connect(port, "127.0.0.1");
        await once(socket, "connect");
        raw.push(socket);
        while (made.length < raw.length) await new Promise((resolve) => setImmediate(resolve));
      }
      const names = await Promise.all(
        hosts.map(async (host, i) => {
          const client = tls.connect({ socket: raw[i], servername: host, ca: ca.certPem });
          await once(client, "secureConnect");
          const name = client.getPeerX509Certificate()?.subjectAltName;
          client.destroy();
          return name;
        }),
      );
      expect(names).toEqual(hosts.map((host) => `DNS:${host}`));
    } finally {
      server.close();
    }
  });
});

describe("DER", () => {
  test("lengths, integers, OIDs, times", () => {
    expect(tlv(0x04, Buffer.alloc(3)).toString("hex")).toBe("0403000000");
    expect(tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString("hex")).toBe("0481c8");
    expect(tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString("hex")).toBe("0482012c");
    expect(unsignedInteger(Buffer.of(0x80)).toString("hex")).toBe("02020080");
    expect(unsignedInteger(Buffer.of(0, 0, 5)).toString("hex")).toBe("020105");
    expect(unsignedInteger(Buffer.of(0)).toString("hex")).toBe("020100");
    expect(objectIdentifier("1.2.840.10045.4.3.2").toString("hex")).toBe("06082a8648ce3d040302");
    expect(time(new Date("2030-01-02T03:04:05Z")).toString("latin1").slice(2)).toBe(
      "300102030405Z",
    );
    expect(time(new Date("2050-01-02T03:04:05Z")).toString("latin1").slice(2)).toBe(
      "20500102030405Z",
    );
    expect(sequence().toString("hex")).toBe("3000");
    expect(contextTag(3, Buffer.of(5), true).toString("hex")).toBe("a30105");
  });
});

describe("a P-256 private key as SEC 1", () => {
  test("is one OpenSSL and node read back, with the curve and the public point", () => {
    const ecdh = createECDH("prime256v1");
    const point = ecdh.generateKeys();
    const pem = toPem("EC PRIVATE KEY", ecPrivateKeyDer(ecdh.getPrivateKey(), point));
    const file = join(dir, "key.pem");
    writeFileSync(file, pem);
    // Exits non-zero, and throws here, on a key it cannot read or whose point is off the curve.
    expect(openssl("ec", "-in", file, "-check", "-noout")).toBe("");
    const key = createPrivateKey(pem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    expect(spki.subarray(-65).equals(point)).toBe(true);
  });

  test("keeps all 32 bytes of a scalar whose leading bytes are zero", () => {
    // d = 1: its public point is the curve's generator.
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(Buffer.of(1));
    expect(ecdh.getPrivateKey().length).toBe(1);
    const der = ecPrivateKeyDer(ecdh.getPrivateKey(), ecdh.getPublicKey());
    const jwk = createPrivateKey(toPem("EC PRIVATE KEY", der)).export({ format: "jwk" });
    expect(Buffer.from(jwk.d as string, "base64url")).toEqual(
      Buffer.concat([Buffer.alloc(31), Buffer.of(1)]),
    );
    expect(() => ecPrivateKeyDer(Buffer.alloc(33, 1), ecdh.getPublicKey())).toThrow("32 bytes");
    expect(() => ecPrivateKeyDer(Buffer.of(1), Buffer.alloc(33, 2))).toThrow("uncompressed");
  });
});
