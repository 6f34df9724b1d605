/**
 * upstream: https — the backend certificate is verified (system CAs or upstreamCa) for the target name,
 * which is also the SNI; a wrong certificate is a 502 unless upstreamInsecure. Names resolve through a
 * real dnsmasq on loopback to [::1].
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import { startDnsmasq } from '../../helpers/dnsmasq.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import {
  backendCa,
  curl,
  curlResult,
  edgeCa,
  startEdge,
  startHttpsBackend,
  tlsFixtures as f,
} from './rig.js';

const ZONE = 'svc.c2.k8s.example';

async function rig(t: Test, routes: ConfigInput['routes'], extra: Partial<ConfigInput> = {}) {
  const dns = await startDnsmasq(null, {
    listen: '127.0.0.1',
    zone: ZONE,
    records: [
      { name: `api.${ZONE}`, aaaa: ['::1'] },
      // Resolves fine, but the backend certificate does not name it.
      { name: `other.c2.example`, aaaa: ['::1'] },
    ],
    extraConfig: ['local=/c2.example/'],
    t,
  });
  return startEdge(t, {
    tls: { certificates: [f.files('exact'), f.files('wildcard')] },
    resolver: { servers: [dns.server], timeoutMs: 1000, attempts: 1 },
    routes,
    ...extra,
  });
}

t.test('verified against upstreamCa, SNI = target name; the backend answers over TLS', async (t) => {
  const backend = await startHttpsBackend(t, 'secure');
  const edge = await rig(t, [
    {
      host: 'a.example.com',
      target: `api.${ZONE}`,
      port: backend.port,
      tls: 'terminate',
      upstream: 'https',
      upstreamCa: backendCa,
    },
  ]);
  for (const version of ['--http1.1', '--http2']) {
    const r = curlResult(await curl(edge.port(), 'a.example.com', '/secure', ['--cacert', edgeCa, version]));
    t.equal(r.status, 200, version);
    const body = JSON.parse(r.body) as { label: string; headers: Record<string, string> };
    t.equal(body.label, 'secure');
    t.equal(body.headers['x-forwarded-proto'], 'https');
  }
  t.same(backend.servernames, [`api.${ZONE}`], 'one pooled TLS connection, SNI = the target name');
  t.ok(edge.logs.records.some((r) => r.msg === 'request' && r.upstream === `[::1]:${backend.port}`));
});

t.test('a backend certificate that does not name the target is refused: 502', async (t) => {
  const backend = await startHttpsBackend(t, 'wrong');
  const edge = await rig(t, [
    {
      host: 'a.example.com',
      target: 'other.c2.example',
      port: backend.port,
      tls: 'terminate',
      upstream: 'https',
      upstreamCa: backendCa,
    },
    {
      host: 'b.example.com',
      target: 'other.c2.example',
      port: backend.port,
      tls: 'terminate',
      upstream: 'https',
    },
  ]);
  const wrongName = curlResult(await curl(edge.port(), 'a.example.com', '/', ['--cacert', edgeCa]));
  t.equal(wrongName.status, 502);
  t.match(wrongName.body, /EDGE_UPSTREAM_TLS/);
  const unknownCa = curlResult(await curl(edge.port(), 'b.example.com', '/', ['--cacert', edgeCa]));
  t.equal(unknownCa.status, 502, 'the system CAs do not know the test CA');
  const lines = edge.logs.records.filter((r) => r.msg === 'request');
  t.match(lines, [
    { status: 502, code: 'EDGE_UPSTREAM_TLS', reason: /ERR_TLS_CERT_ALTNAME_INVALID/ },
    {
      status: 502,
      code: 'EDGE_UPSTREAM_TLS',
      reason: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to/i,
    },
  ]);
});

t.test('upstreamInsecure: the same backend is reached, with a warning at start', async (t) => {
  const backend = await startHttpsBackend(t, 'insecure', { cert: f.cert('default'), key: f.key('default') });
  const edge = await rig(t, [
    {
      host: 'a.example.com',
      target: 'other.c2.example',
      port: backend.port,
      tls: 'terminate',
      upstream: 'https',
      upstreamInsecure: true,
    },
  ]);
  t.ok(
    edge.logs.records.some(
      (r) => r.level === 40 && r.msg?.startsWith('upstreamInsecure') && r.route === 'a.example.com',
    ),
  );
  const r = curlResult(await curl(edge.port(), 'a.example.com', '/', ['--cacert', edgeCa]));
  t.equal(r.status, 200);
  t.match(r.body, /"label":"insecure"/);
});

t.test('upstream https behind a plain http listener', async (t) => {
  const backend = await startHttpsBackend(t, 'plain-in');
  const edge = await rig(
    t,
    [
      {
        host: 'web.example',
        target: `api.${ZONE}`,
        port: backend.port,
        upstream: 'https',
        upstreamCa: backendCa,
      },
    ],
    { listeners: [{ name: 'web', address: '127.0.0.1:0', protocol: 'http', backendPort: 80 }] },
  );
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: edge.port(), path: '/', headers: { host: 'web.example' } }, (r) => {
        let data = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (data += d));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: data }));
      })
      .on('error', reject);
  });
  t.equal(res.status, 200);
  const body = JSON.parse(res.body) as { label: string; headers: Record<string, string> };
  t.equal(body.label, 'plain-in');
  t.equal(body.headers['x-forwarded-proto'], 'http');
});
