import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { parseCertificatePair, validityProblem } from '../../../src/tls/certificate.js';
import { generateSelfSigned } from '../../../src/tls/self-signed.js';

t.test('a self-signed pair for the given names, valid now, with a matching key', async (t) => {
  const pair = await generateSelfSigned(['dev.example.org', '*.dev.example.org']);
  const parsed = parseCertificatePair(pair.certPem, pair.keyPem);
  if (!parsed.ok) throw new Error(parsed.reason);
  t.same(parsed.cert.names, ['dev.example.org', '*.dev.example.org']);
  t.equal(validityProblem(parsed.cert, Date.now()), null);
  t.ok(parsed.cert.notAfter - Date.now() > 300 * 86_400_000, 'valid for about a year');
  const x509 = new X509Certificate(pair.certPem);
  t.ok(x509.verify(x509.publicKey), 'signed by its own key');
  t.equal(x509.ca, false);
  t.match(x509.subject, /CN=dev\.example\.org/);
  t.match(x509.keyUsage ?? [], ['1.3.6.1.5.5.7.3.1'], 'serverAuth');
  const other = await generateSelfSigned(['dev.example.org']);
  t.not(new X509Certificate(other.certPem).serialNumber, x509.serialNumber, 'random serials');
});

t.test('no names is a programming error', async (t) => {
  await t.rejects(generateSelfSigned([]), /no names/);
});
