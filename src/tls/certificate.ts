/**
 * One certificate/key pair as edge46 serves it: the SAN DNS names it covers (RFC 6125 §6.4: the
 * subject CN is never used for matching), its validity window, and whether the key belongs to it.
 * Parsing is pure over the PEM text (node:crypto X509Certificate); reading the files is the caller's.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ParsedCertificate {
  /** SAN dNSName entries, lowercased, in certificate order ("*.example.com" kept as written). */
  readonly names: readonly string[];
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** SHA-256 of the leaf, colon-separated hex (as openssl prints it). */
  readonly fingerprint: string;
  readonly subject: string;
  readonly issuer: string;
  /** The whole certificate file (leaf first, then any intermediates) and the key, as read. */
  readonly certPem: string;
  readonly keyPem: string;
}

export type ParseResult =
  { readonly ok: true; readonly cert: ParsedCertificate } | { readonly ok: false; readonly reason: string };

/** Parses a pair and checks that the private key belongs to the leaf certificate. */
export function parseCertificatePair(certPem: string, keyPem: string): ParseResult {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    return { ok: false, reason: `certificate is not a PEM X.509 certificate (${shortError(err)})` };
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    return { ok: false, reason: `key is not an unencrypted PEM private key (${shortError(err)})` };
  }
  if (!matches) return { ok: false, reason: 'key does not match the certificate' };
  const notBefore = Date.parse(x509.validFrom);
  const notAfter = Date.parse(x509.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) {
    return { ok: false, reason: `unreadable validity (${x509.validFrom} – ${x509.validTo})` };
  }
  return {
    ok: true,
    cert: {
      names: sanDnsNames(x509.subjectAltName),
      notBefore,
      notAfter,
      fingerprint: x509.fingerprint256,
      subject: x509.subject.replaceAll('\n', ', '),
      issuer: x509.issuer.replaceAll('\n', ', '),
      certPem,
      keyPem,
    },
  };
}

export type PairText =
  | { readonly ok: true; readonly certPem: string; readonly keyPem: string }
  | { readonly ok: false; readonly reason: string };

/** Reads both files; a read error becomes a reason naming the file. */
export async function readPairText(files: CertificateFiles): Promise<PairText> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = await readFile(files.certFile, 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read ${files.certFile}: ${errnoOf(err)}` };
  }
  try {
    keyPem = await readFile(files.keyFile, 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read ${files.keyFile}: ${errnoOf(err)}` };
  }
  return { ok: true, certPem, keyPem };
}

/** Reads and parses a pair. */
export async function readCertificatePair(files: CertificateFiles): Promise<ParseResult> {
  const text = await readPairText(files);
  return text.ok ? parseCertificatePair(text.certPem, text.keyPem) : text;
}

/** Why a parsed certificate should not be served at `now`; null when it is within its validity. */
export function validityProblem(cert: ParsedCertificate, now: number): string | null {
  if (now > cert.notAfter) return `expired on ${new Date(cert.notAfter).toISOString()}`;
  if (now < cert.notBefore) return `not valid before ${new Date(cert.notBefore).toISOString()}`;
  return null;
}

/** A hash of both files' content: an unchanged pair is not parsed again on reload. */
export function pairDigest(certPem: string, keyPem: string): string {
  return createHash('sha256').update(certPem).update('\0').update(keyPem).digest('hex');
}

// Only plain LDH names and a leading "*." are taken; Node prints other values quoted (escaped), and
// those can never match a host name that passed normalizeHostname.
const DNS_NAME = /^(?:\*\.)?[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;

/** The dNSName entries of node's subjectAltName string ("DNS:a.example, IP Address:…, DNS:*.b"). */
export function sanDnsNames(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  const names: string[] = [];
  for (const entry of subjectAltName.split(', ')) {
    if (!entry.startsWith('DNS:')) continue;
    const name = entry.slice(4).toLowerCase();
    if (DNS_NAME.test(name) && !names.includes(name)) names.push(name);
  }
  return names;
}

function shortError(err: unknown): string {
  const code = errnoOf(err);
  return code !== 'error' ? code : err instanceof Error ? err.message : String(err);
}

function errnoOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return 'error';
}
