/**
 * One tls listener, both kinds of route: a passthrough name shows the backend's certificate, a
 * terminate name edge46's own, each verified by real clients against the right CA; certificate
 * selection (exact, wildcard, default), missing certificates, self-signed stand-ins and refused
 * handshakes.
 */
import t from 'tap';
import tls from 'node:tls';
import { App } from '../../../src/app.js';
import { validateConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/observe/logger.js';
import { startHttpBackend } from '../http/backends.js';
import {
  backendCa,
  curl,
  curlResult,
  edgeCa,
  peerSubject,
  sClient,
  startEdge,
  startHttpsBackend,
  terminateConfig,
  tlsFixtures as f,
} from './rig.js';

const GET = (host: string): string =>
  `GET /via-openssl HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

t.test('a passthrough name and a terminate name on one listener, verified by openssl and curl', async (t) => {
  const passthrough = await startHttpsBackend(t, 'pass');
  const terminated = await startHttpBackend(t, 'term');
  const edge = await startEdge(t, {
    tls: { certificates: [f.files('exact')] },
    routes: [
      { host: 'web.example', target: '[::1]', port: passthrough.port },
      { host: 'a.example.com', target: '[::1]', port: terminated.port, tls: 'terminate' },
    ],
  });
  const port = edge.port();

  // Passthrough: the backend's own certificate, chaining to the backend CA only.
  const pass = await sClient(port, 'web.example', backendCa, ['-brief'], GET('web.example'));
  t.equal(pass.code, 0, pass.stderr);
  t.equal(peerSubject(pass), 'CN = backend.test');
  t.match(pass.stderr, /Verification: OK/);
  t.match(pass.stdout, /"label":"pass"/, 'the backend itself answered, TLS end to end');
  const passWrongCa = await sClient(port, 'web.example', edgeCa, ['-brief']);
  t.not(passWrongCa.code, 0, 'edge46 CA does not verify the backend certificate');

  // Terminate: edge46's certificate for the name, chaining to the edge CA only.
  const term = await sClient(port, 'a.example.com', edgeCa, ['-brief'], GET('a.example.com'));
  t.equal(term.code, 0, term.stderr);
  t.equal(peerSubject(term), 'CN = a.example.com');
  t.match(term.stderr, /Verified peername: a\.example\.com/);
  t.match(term.stdout, /"x-forwarded-proto":"https"/, 'decrypted and proxied with X-Forwarded-Proto: https');
  const termWrongCa = await sClient(port, 'a.example.com', backendCa, ['-brief']);
  t.not(termWrongCa.code, 0);

  // curl verifies each against its CA, both HTTP versions.
  for (const version of ['--http1.1', '--http2']) {
    const r = curlResult(await curl(port, 'a.example.com', '/curl', ['--cacert', edgeCa, version]));
    t.equal(r.status, 200, version);
    t.equal(r.version, version === '--http2' ? '2' : '1.1');
    const body = JSON.parse(r.body) as { label: string; url: string; headers: Record<string, string> };
    t.equal(body.label, 'term');
    t.equal(body.url, '/curl');
    t.equal(body.headers['x-forwarded-proto'], 'https');
    t.equal(body.headers['x-forwarded-for'], '127.0.0.1');
    t.match(body.headers.forwarded, /proto=https/);
  }
  const pr = curlResult(await curl(port, 'web.example', '/curl', ['--cacert', backendCa]));
  t.equal(pr.status, 200);
  t.match(pr.body, /"label":"pass"/);
  const wrong = await curl(port, 'a.example.com', '/', ['--cacert', backendCa]);
  t.equal(
    wrong.code,
    60,
    'curl refuses edge46 certificate under the backend CA (CURLE_PEER_FAILED_VERIFICATION)',
  );
  // openssl and curl completed handshakes with the passthrough backend itself, with the SNI untouched.
  t.ok(passthrough.servernames.length >= 2);
  t.ok(passthrough.servernames.every((n) => n === 'web.example'));
});

t.test('exact SAN, then wildcard SAN (one label), then the default certificate', async (t) => {
  const backend = await startHttpBackend(t, 'any');
  const edge = await startEdge(t, {
    tls: {
      certificates: [f.files('wildcard'), f.files('exact'), f.files('default')],
      defaultCertificate: 'default.example.net',
    },
    routes: [{ host: '*.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  });
  const port = edge.port();
  const seen = async (sni: string, verifyName: boolean): Promise<string | undefined> => {
    const r = await sClient(
      port,
      sni,
      edgeCa,
      verifyName ? ['-brief'] : ['-brief', '-verify_hostname', ''],
      GET(sni),
    );
    t.equal(r.code, 0, `${sni}: ${r.stderr}`);
    return peerSubject(r);
  };
  t.equal(await seen('a.example.com', true), 'CN = a.example.com', 'exact');
  t.equal(
    await seen('b.example.com', true),
    'CN = a.example.com',
    'exact (second SAN of the same certificate)',
  );
  t.equal(await seen('zz.example.com', true), 'CN = *.example.com', 'wildcard');
  t.equal(await seen('x.y.example.com', false), 'CN = default.example.net', 'two labels: the default');
  const matches = edge.logs.records
    .filter((r) => r.msg === 'tls terminated')
    .map((r) => (r.tls as { match: string }).match);
  t.same(matches, ['exact', 'exact', 'wildcard', 'default']);
});

t.test('no certificate for the name and no default: alert unrecognized_name', async (t) => {
  const backend = await startHttpBackend(t, 'any');
  const edge = await startEdge(t, {
    tls: { certificates: [f.files('wildcard')] },
    routes: [{ host: '*.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  });
  const r = await sClient(edge.port(), 'x.y.example.com', edgeCa, ['-brief']);
  t.not(r.code, 0);
  t.match(r.stderr, /SSL alert number 112/);
  const line = await edge.logs.connection(0);
  t.match(line, { code: 'EDGE_NO_CERTIFICATE', outcome: 'no_route', sni: 'x.y.example.com' });
  t.equal(backend.requests.length, 0);
});

t.test(
  'a terminate route without a certificate gets a self-signed one, unless requireCertificates',
  async (t) => {
    const backend = await startHttpBackend(t, 'dev');
    const edge = await startEdge(t, {
      routes: [{ host: 'dev.example.org', target: '[::1]', port: backend.port, tls: 'terminate' }],
    });
    t.ok(
      edge.logs.records.some((r) => r.level === 40 && r.route === 'dev.example.org'),
      'a warning names the route',
    );
    const verified = await sClient(edge.port(), 'dev.example.org', edgeCa, ['-brief']);
    t.not(verified.code, 0, 'a verifying client refuses it');
    const socket = tls.connect({
      host: '127.0.0.1',
      port: edge.port(),
      servername: 'dev.example.org',
      rejectUnauthorized: false,
    });
    const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.getPeerCertificate()));
      socket.once('error', reject);
    });
    socket.destroy();
    t.equal(cert.subject.CN, 'dev.example.org');
    t.equal(cert.issuer.O, 'edge46 self-signed (development)');
    t.equal(cert.subjectaltname, 'DNS:dev.example.org');

    const strict = validateConfig(
      terminateConfig({
        tls: { requireCertificates: true },
        routes: [{ host: 'dev.example.org', target: '[::1]', port: backend.port, tls: 'terminate' }],
      }),
    );
    if (!strict.ok) throw new Error('config');
    await t.rejects(
      App.start(strict.config, { logger: createLogger({ level: 'silent', format: 'json' }) }),
      /no certificate covers terminate route\(s\) dev\.example\.org and tls\.requireCertificates is true/,
    );
  },
);

t.test('TLS 1.1 and an ALPN offer without h2 or http/1.1 are refused with the right alerts', async (t) => {
  const backend = await startHttpBackend(t, 'a');
  const edge = await startEdge(t, {
    tls: { certificates: [f.files('exact')] },
    routes: [{ host: 'a.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  });
  const old = await sClient(edge.port(), 'a.example.com', edgeCa, [
    '-tls1_1',
    '-cipher',
    'DEFAULT@SECLEVEL=0',
  ]);
  t.match(old.stderr, /SSL alert number 70/, 'protocol_version');
  const alpn = await sClient(edge.port(), 'a.example.com', edgeCa, ['-alpn', 'spdy/3']);
  t.match(alpn.stderr, /SSL alert number 120/, 'no_application_protocol (RFC 7301 §3.2)');
  t.match(await edge.logs.connection(0), { code: 'EDGE_TLS_HANDSHAKE', reason: /unsupported protocol/ });
  t.match(await edge.logs.connection(1), { code: 'EDGE_TLS_HANDSHAKE', reason: /no application protocol/ });
  t.equal(backend.requests.length, 0);
});
