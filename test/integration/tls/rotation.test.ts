/**
 * Certificates replaced on disk are served to new connections while open ones keep working; an invalid
 * replacement is rejected and the old certificate stays. Session resumption with tickets, also across
 * a ticket key rotation.
 */
import t, { type Test } from 'tap';
import { copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startHttpBackend } from '../http/backends.js';
import { edgeCa, h2Request, h2Session, sClient, startEdge, tlsFixtures as f } from './rig.js';
import type { FixtureName } from '../../unit/tls/fixtures.js';
import { parseCertificatePair } from '../../../src/tls/certificate.js';

function fingerprint(name: FixtureName): string {
  const parsed = parseCertificatePair(f.cert(name), f.key(name));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.cert.fingerprint;
}

/** The fingerprint of the certificate a fresh connection for `servername` is shown. */
function servedFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: f.ca });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

async function replace(dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, content);
  await rename(tmp, join(dir, name));
}

async function rotatingEdge(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-rotate-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await copyFile(f.files('exact').certFile, join(dir, 'site.crt'));
  await copyFile(f.files('exact').keyFile, join(dir, 'site.key'));
  const backend = await startHttpBackend(t, 'a');
  const edge = await startEdge(t, {
    tls: { certificateDir: dir },
    routes: [{ host: 'a.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  });
  return { dir, edge, port: edge.port() };
}

t.test('a rotated certificate is served to new connections; an open connection keeps working', async (t) => {
  const { dir, edge, port } = await rotatingEdge(t);
  t.equal(await servedFingerprint(port, 'a.example.com'), fingerprint('exact'));
  const old = await h2Session(t, port, 'a.example.com');
  t.equal((await h2Request(old, { ':path': '/before' })).status, 200);

  // The key first, then the certificate: in between the pair does not match and is rejected.
  const replaced = edge.logs.waitFor((r) => r.msg === 'certificate replaced');
  await replace(dir, 'site.key', f.key('exact2'));
  await replace(dir, 'site.crt', f.cert('exact2'));
  const line = await replaced;
  t.equal(line.fingerprint, fingerprint('exact2'));
  t.equal(
    await servedFingerprint(port, 'a.example.com'),
    fingerprint('exact2'),
    'new connections: the new one',
  );

  t.equal((await h2Request(old, { ':path': '/after' })).status, 200, 'the open connection still works');
  t.equal(old.closed, false);
  const oldSocket = old.socket as unknown as tls.TLSSocket;
  t.equal(
    oldSocket.getPeerCertificate().fingerprint256,
    fingerprint('exact'),
    'with the certificate it started with',
  );

  // An invalid replacement is rejected with a log line, the current certificate stays.
  const rejected = edge.logs.waitFor((r) => r.msg === 'certificate rejected: keeping the previous one');
  await replace(dir, 'site.key', 'not a key\n');
  t.match(await rejected, { level: 50, reason: /not an unencrypted PEM private key/ });
  t.equal(await servedFingerprint(port, 'a.example.com'), fingerprint('exact2'));
  const verified = await sClient(port, 'a.example.com', edgeCa, ['-brief']);
  t.equal(verified.code, 0, 'and still verifies');
});

t.test('session resumption: openssl -sess_out/-sess_in reports Reused', async (t) => {
  const { edge, port } = await rotatingEdge(t);
  const dir = await mkdtemp(join(tmpdir(), 'edge46-sess-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const request = 'GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n';
  for (const version of ['-tls1_3', '-tls1_2']) {
    const file = join(dir, `session${version}.pem`);
    const first = await sClient(port, 'a.example.com', edgeCa, [version, '-sess_out', file], request);
    t.equal(first.code, 0, first.stderr);
    t.match(first.stdout, /^New, TLSv1\.[23]/m);
    const second = await sClient(port, 'a.example.com', edgeCa, [version, '-sess_in', file], request);
    t.equal(second.code, 0, second.stderr);
    t.match(second.stdout, /^Reused, TLSv1\.[23]/m, `${version}: the second connection resumed`);
    t.match(second.stdout, /HTTP\/1\.1 200 OK/);
  }
  const resumed = edge.logs.records
    .filter((r) => r.msg === 'tls terminated')
    .map((r) => (r.tls as { resumed: boolean; version: string }).resumed);
  t.same(resumed, [false, true, false, true]);
});

t.test('session resumption across a ticket key rotation (node client)', async (t) => {
  const { edge, port } = await rotatingEdge(t);
  const connectOnce = (session?: Buffer): Promise<{ session: Buffer | undefined; reused: boolean }> =>
    new Promise((resolve, reject) => {
      let latest: Buffer | undefined;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'a.example.com',
        ca: f.ca,
        ...(session === undefined ? {} : { session }),
      });
      socket.on('session', (s: Buffer) => (latest = s));
      socket.once('secureConnect', () =>
        socket.write('GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n'),
      );
      socket.resume();
      socket.once('end', () => {
        resolve({ session: latest, reused: socket.isSessionReused() });
        socket.end();
      });
      socket.once('error', reject);
    });
  const first = await connectOnce();
  t.equal(first.reused, false);
  t.ok(first.session);
  const keys = edge.app.terminator?.certificates.ticketKeys;
  if (keys === undefined) throw new Error('no terminator');
  keys.rotate();
  const second = await connectOnce(first.session);
  t.equal(second.reused, true, 'a ticket under the previous key still resumes');
  keys.rotate();
  keys.rotate();
  const third = await connectOnce(first.session);
  t.equal(third.reused, false, 'two rotations later: a full handshake, not an error');
});
