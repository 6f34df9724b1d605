import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  pairDigest,
  parseCertificatePair,
  readCertificatePair,
  sanDnsNames,
  validityProblem,
} from '../../../src/tls/certificate.js';
import { tlsFixtures as f } from './fixtures.js';

t.test('a good pair: SAN names, validity, fingerprint', async (t) => {
  const result = parseCertificatePair(f.cert('exact'), f.key('exact'));
  if (!result.ok) throw new Error(result.reason);
  t.same(result.cert.names, ['a.example.com', 'b.example.com']);
  t.ok(result.cert.notAfter > Date.parse('2100-01-01T00:00:00Z'));
  t.match(result.cert.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.match(result.cert.issuer, /edge46 edge test CA/);
  t.equal(validityProblem(result.cert, Date.now()), null);
});

t.test('a wildcard SAN is kept as written', async (t) => {
  const result = parseCertificatePair(f.cert('wildcard'), f.key('wildcard'));
  t.ok(result.ok);
  if (result.ok) t.same(result.cert.names, ['*.example.com']);
});

t.test('a key that belongs to another certificate is refused', async (t) => {
  const result = parseCertificatePair(f.cert('exact'), f.key('exact2'));
  t.same(result, { ok: false, reason: 'key does not match the certificate' });
});

t.test('expired and not-yet-valid certificates parse, and validityProblem names the date', async (t) => {
  const expired = parseCertificatePair(f.cert('expired'), f.key('expired'));
  const future = parseCertificatePair(f.cert('future'), f.key('future'));
  if (!expired.ok || !future.ok) throw new Error('fixtures do not parse');
  t.equal(validityProblem(expired.cert, Date.now()), 'expired on 2001-01-01T00:00:00.000Z');
  t.equal(validityProblem(future.cert, Date.now()), 'not valid before 2099-01-01T00:00:00.000Z');
  t.equal(validityProblem(expired.cert, Date.parse('2000-06-01T00:00:00Z')), null);
});

t.test('garbage is refused with a reason', async (t) => {
  const notCert = parseCertificatePair('hello', f.key('exact'));
  t.equal(notCert.ok, false);
  if (!notCert.ok) t.match(notCert.reason, /not a PEM X.509 certificate/);
  const notKey = parseCertificatePair(f.cert('exact'), f.cert('exact'));
  t.equal(notKey.ok, false);
  if (!notKey.ok) t.match(notKey.reason, /not an unencrypted PEM private key/);
});

t.test('readCertificatePair names the file it cannot read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-cert-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = join(dir, 'missing.crt');
  t.same(await readCertificatePair({ certFile: missing, keyFile: f.files('exact').keyFile }), {
    ok: false,
    reason: `cannot read ${missing}: ENOENT`,
  });
  const missingKey = join(dir, 'missing.key');
  t.same(await readCertificatePair({ certFile: f.files('exact').certFile, keyFile: missingKey }), {
    ok: false,
    reason: `cannot read ${missingKey}: ENOENT`,
  });
  t.ok((await readCertificatePair(f.files('default'))).ok);
});

t.test('sanDnsNames keeps DNS entries only, lowercased, deduplicated', async (t) => {
  t.same(sanDnsNames(undefined), []);
  t.same(sanDnsNames('DNS:A.Example, IP Address:192.0.2.1, DNS:*.b.example, DNS:a.example, email:x@y'), [
    'a.example',
    '*.b.example',
  ]);
  t.same(sanDnsNames('DNS:"odd, name", DNS:ok.example'), ['ok.example']);
});

t.test('pairDigest changes with either file', async (t) => {
  t.not(pairDigest('a', 'b'), pairDigest('a', 'c'));
  t.not(pairDigest('ab', ''), pairDigest('a', 'b'));
  t.equal(pairDigest('a', 'b'), pairDigest('a', 'b'));
});
