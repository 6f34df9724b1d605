/**
 * A self-signed certificate for development: made at start-up for a terminate route that no loaded
 * certificate covers (tls.requireCertificates: true forbids it). The key comes from node:crypto
 * (native, off the main thread); node-forge builds and signs the X.509 structure, which node:crypto
 * cannot do.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateRsa = promisify(generateKeyPair);

export interface GeneratedPair {
  readonly certPem: string;
  readonly keyPem: string;
}

const VALIDITY_DAYS = 365;

/** A certificate whose SAN lists `names` (wildcards allowed) and whose CN is the first of them. */
export async function generateSelfSigned(names: readonly string[], now = Date.now()): Promise<GeneratedPair> {
  const [first] = names;
  if (first === undefined) throw new Error('generateSelfSigned: no names');
  const { publicKey, privateKey } = await generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // A positive 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, non-negative).
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  // Back-dated an hour so a client with a slightly slow clock accepts it.
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + VALIDITY_DAYS * 86_400_000);
  const subject = [
    { shortName: 'CN', value: first },
    { shortName: 'O', value: 'edge46 self-signed (development)' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}
