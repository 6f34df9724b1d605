// End-to-end TLS passthrough with real hosts: curl in the IPv4-only client namespace → edge46 (a real
// process, dist/src/main.js) in the dual-stack edge → an IPv6-only TLS backend, found by name through a
// real dnsmasq in the backend namespace. Refused names must be refused for the logged reason.
import t, { type Test } from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { ADDR, createTopology, requireNetns } from '../helpers/netns.js';
import type { JsonRecord } from '../helpers/process.js';
import { makeSelfSignedCert } from './certs.js';
import { startEdge46 } from './edge46.js';

const ZONE = 'c2.k8s.example';
const SVC = `default.svc.${ZONE}`;
const BACKEND_PORT = 8443;

// Answers `<local address> <SNI> <peer address>` so the test sees which backend address was dialled,
// that the TLS session was the backend's own, and that the backend saw the edge, not the client.
const BACKEND_SCRIPT = `
const https = require('node:https');
const fs = require('node:fs');
const [cert, key, port] = process.argv.slice(1);
https
  .createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
    if (req.headers.connection === 'close') res.setHeader('Connection', 'close');
    res.end(req.socket.localAddress + ' ' + req.socket.servername + ' ' + req.socket.remoteAddress + '\\n');
  })
  .listen(Number(port), '::', () => console.log('listening'));
`;

// A TLS client that closes cleanly: asks the backend to close (Connection: close), reads to EOF, then
// ends. curl instead closes with unread bytes (the backend's close_notify) often enough that the kernel
// sends a RST, which edge46 rightly logs as a client reset; this client makes outcome "ok" deterministic.
// It closes with a bare FIN (allowHalfOpen, then destroy): a close_notify sent after the backend has
// closed its socket makes the backend's kernel answer with a RST, which a fast pipe engine (splice)
// forwards before the client's FIN arrives, rightly logged as a backend reset.
const CLIENT_SCRIPT = `
const tls = require('node:tls');
const fs = require('node:fs');
const [host, servername, ca] = process.argv.slice(1);
const socket = tls.connect({ host, port: 443, servername, ca: fs.readFileSync(ca), allowHalfOpen: true }, () => {
  socket.write('GET / HTTP/1.1\\r\\nHost: ' + servername + '\\r\\nConnection: close\\r\\n\\r\\n');
});
let body = '';
socket.setEncoding('utf8');
socket.on('data', (d) => (body += d));
socket.on('end', () => {
  process.stdout.write(body.split('\\r\\n\\r\\n')[1] ?? '');
  socket.destroy();
});
socket.on('error', (e) => { console.error(e.message); process.exitCode = 1; });
`;

if (requireNetns(t)) {
  const topo = await createTopology(t);
  const { client, edge, backend } = topo;
  await topo.addBackendAddress(ADDR.backendV6Alt);
  await topo.addBackendAddress(ADDR.outsideV6);

  const cert = await makeSelfSignedCert(t, [`web.${SVC}`, `*.${SVC}`, '*.apps.example.com']);
  const server = backend.spawn(
    [process.execPath, '-e', BACKEND_SCRIPT, cert.certFile, cert.keyFile, String(BACKEND_PORT)],
    {
      name: 'tls-backend',
    },
  );
  await server.waitForLine((l) => l === 'listening', 10_000);

  const dns = await startDnsmasq(backend, {
    listen: ADDR.dnsV6,
    zone: ZONE,
    records: [
      { name: `web.${SVC}`, aaaa: [ADDR.backendV6], ttl: 300 },
      { name: `legacy.${SVC}`, a: ['192.0.2.80'], ttl: 300 },
      { name: `outside.${SVC}`, aaaa: [ADDR.outsideV6], ttl: 300 },
      { name: `mixed.${SVC}`, aaaa: [ADDR.outsideV6, ADDR.backendV6Alt], ttl: 300 },
    ],
    dynamicRecords: [{ name: `short.${SVC}`, aaaa: [ADDR.backendV6] }],
    dynamicTtl: 1,
    t,
  });

  const edge46 = await startEdge46(
    t,
    edge,
    `
listeners:
  - name: https
    address: "${ADDR.edgeV4}:443"
    protocol: tls
    backendPort: ${BACKEND_PORT}
    sniffTimeoutMs: 5000
timeouts: { connectMs: 3000 }
drain: { announceSeconds: 0, timeoutSeconds: 2 }   # no load balancer to tell; stop() allows 5 s
resolver:
  servers: ["${dns.server}"]
  timeoutMs: 1000
  attempts: 1
  minTtlSeconds: 1
  negativeTtlSeconds: 1
backends:
  allow: ["2001:db8:10::/48"]
  deny: []   # the default denies 2001:db8::/32 (documentation), which is all this test uses
routes:
  - host: "*.svc.${ZONE}"
    target: "{host}"
  - host: "*.apps.example.com"
    target: "{sub}.${SVC}"
`,
  );

  /** curl from the client namespace to edge46 with `name` as SNI; the backend's cert is the only trust anchor. */
  const fetchThroughEdge = async (name: string) => {
    const from = edge46.mark();
    const res = await client.exec([
      'curl',
      '-sS',
      '--max-time',
      '10',
      '--cacert',
      cert.certFile,
      '--resolve',
      `${name}:443:${ADDR.edgeV4}`,
      `https://${name}/`,
    ]);
    const log = await edge46.connectionClosed(from, (r) => r.sni === name);
    return { ...res, log };
  };

  /** The same through a client that reads to EOF before it closes (see CLIENT_SCRIPT). */
  const fetchCleanly = async (name: string) => {
    const from = edge46.mark();
    const res = await client.exec([process.execPath, '-e', CLIENT_SCRIPT, ADDR.edgeV4, name, cert.certFile]);
    const log = await edge46.connectionClosed(from, (r) => r.sni === name);
    return { ...res, log };
  };

  /** A served connection: curl may close with a RST after reading everything (see CLIENT_SCRIPT). */
  const servedOutcome = { outcome: /^(ok|reset)$/, end: /^(done|client-reset)$/ };

  const assertRefused = (
    t: Test,
    res: { code: number; stdout: string; log: JsonRecord },
    outcome: string,
    code: string,
  ) => {
    t.not(res.code, 0, 'curl fails');
    t.equal(res.stdout, '', 'no response from any backend');
    t.match(res.log, { outcome, code, client: ADDR.clientV4, listener: 'https' });
  };

  t.test('edge46 listens on the edge IPv4 address', (t) => {
    t.match(edge46.listening, [{ listener: 'https', address: `${ADDR.edgeV4}:443` }]);
    t.end();
  });

  t.test('curl in the IPv4-only client reaches the IPv6-only backend by name', async (t) => {
    const res = await fetchThroughEdge(`web.${SVC}`);
    t.equal(res.code, 0, res.stderr);
    t.equal(
      res.stdout,
      `${ADDR.backendV6} web.${SVC} ${ADDR.edgeV6}\n`,
      "the backend's own TLS, seen from the edge",
    );
    t.match(res.log, {
      ...servedOutcome,
      client: ADDR.clientV4,
      listener: 'https',
      sni: `web.${SVC}`,
      route: `*.svc.${ZONE}`,
      backend: `[${ADDR.backendV6}]:${BACKEND_PORT}`,
    });
    t.ok(Number(res.log.bytesIn) > 0 && Number(res.log.bytesOut) > 0, 'bytes counted both ways');
  });

  t.test('a client that closes cleanly is logged as ok with both byte counts', async (t) => {
    const res = await fetchCleanly(`web.${SVC}`);
    t.equal(res.code, 0, res.stderr);
    t.equal(res.stdout, `${ADDR.backendV6} web.${SVC} ${ADDR.edgeV6}\n`);
    t.match(res.log, {
      outcome: 'ok',
      end: 'done',
      client: ADDR.clientV4,
      backend: `[${ADDR.backendV6}]:${BACKEND_PORT}`,
    });
    t.ok(Number(res.log.bytesIn) > 0 && Number(res.log.bytesOut) > 0, 'bytes counted both ways');
  });

  t.test('a {sub} template route maps another domain onto the cluster name', async (t) => {
    const res = await fetchThroughEdge('web.apps.example.com');
    t.equal(res.code, 0, res.stderr);
    t.equal(res.stdout, `${ADDR.backendV6} web.apps.example.com ${ADDR.edgeV6}\n`);
    t.match(res.log, {
      ...servedOutcome,
      route: '*.apps.example.com',
      backend: `[${ADDR.backendV6}]:${BACKEND_PORT}`,
    });
  });

  t.test('an answer with one blocked and one allowed address dials only the allowed one', async (t) => {
    const res = await fetchThroughEdge(`mixed.${SVC}`);
    t.equal(res.code, 0, res.stderr);
    t.equal(res.stdout, `${ADDR.backendV6Alt} mixed.${SVC} ${ADDR.edgeV6}\n`);
    t.match(res.log, { ...servedOutcome, backend: `[${ADDR.backendV6Alt}]:${BACKEND_PORT}` });
  });

  t.test('a name with only an A record is refused (no A fallback)', async (t) => {
    assertRefused(t, await fetchThroughEdge(`legacy.${SVC}`), 'resolve_failed', 'EDGE_RESOLVE_NODATA');
  });

  t.test('a name whose AAAA lies outside backends.allow is refused', async (t) => {
    assertRefused(t, await fetchThroughEdge(`outside.${SVC}`), 'blocked', 'EDGE_BLOCKED_ADDRESS');
  });

  t.test('an NXDOMAIN name is refused', async (t) => {
    assertRefused(t, await fetchThroughEdge(`missing.${SVC}`), 'resolve_failed', 'EDGE_RESOLVE_NXDOMAIN');
  });

  t.test('a name no route matches gets unrecognized_name', async (t) => {
    const res = await fetchThroughEdge('www.example.org');
    assertRefused(t, res, 'no_route', 'EDGE_NO_ROUTE');
    t.match(res.stderr, /unrecognized name/i, 'curl reports the TLS alert');
  });

  t.test('a short-TTL record is re-resolved after it expires', async (t) => {
    const before = await fetchThroughEdge(`short.${SVC}`);
    t.equal(before.stdout, `${ADDR.backendV6} short.${SVC} ${ADDR.edgeV6}\n`);
    await dns.setDynamicRecords([{ name: `short.${SVC}`, aaaa: [ADDR.backendV6Alt] }]);
    // The cached answer lives for the 1 s TTL; nothing signals its expiry, so retry within a bound.
    let after = before;
    for (let attempt = 0; attempt < 20 && !after.stdout.startsWith(`${ADDR.backendV6Alt} `); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await fetchThroughEdge(`short.${SVC}`);
    }
    t.equal(after.stdout, `${ADDR.backendV6Alt} short.${SVC} ${ADDR.edgeV6}\n`, 'the new address is dialled');
    t.match(after.log, { ...servedOutcome, backend: `[${ADDR.backendV6Alt}]:${BACKEND_PORT}` });
  });

  t.test('the client still cannot reach the backend without edge46', async (t) => {
    const res = await client.exec([
      'curl',
      '-sS',
      '-g',
      '--max-time',
      '5',
      '-k',
      `https://[${ADDR.backendV6}]:${BACKEND_PORT}/`,
    ]);
    t.not(res.code, 0, res.stderr.trim());
  });

  t.test('edge46 stops cleanly on SIGTERM', async (t) => {
    const exit = await edge46.stop();
    const tail = edge46.child.stdout.slice(-5).join('\n') + edge46.child.stderr.slice(-5).join('\n');
    t.same(exit, { code: 0, signal: null }, `exits 0 by itself within the bound; last output:\n${tail}`);
    t.ok(edge46.child.jsonLines().some((r) => r.msg === 'edge46 stopped'));
  });
}
