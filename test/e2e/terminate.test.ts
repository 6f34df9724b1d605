// End-to-end TLS termination next to passthrough, with real hosts: from the IPv4-only client namespace,
// one IPv4 address and port of edge46 (a real process, dist/src/main.js) serves a terminate name with
// edge46's own certificate (then plain HTTP to an IPv6-only nginx) and a passthrough name whose TLS is
// nginx's own. Both are verified by curl against the one CA each should chain to.
import t from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { ADDR, createTopology, requireNetns } from '../helpers/netns.js';
import { makeSelfSignedCert } from './certs.js';
import { startEdge46 } from './edge46.js';
import { startNginx } from './nginx.js';

const ZONE = 'c2.k8s.example';
const SVC = `default.svc.${ZONE}`;

if (requireNetns(t)) {
  const topo = await createTopology(t);
  const { client, edge, backend } = topo;

  // Two trust anchors: nginx's certificate (passthrough) and edge46's certificate (terminate).
  const backendCert = await makeSelfSignedCert(t, ['secure.example.com']);
  const edgeCert = await makeSelfSignedCert(t, ['app.example.com', 'api.example.com']);

  const nginx = await startNginx(
    t,
    backend,
    `
  server {
    listen [${ADDR.backendV6}]:8080;
    location / { return 200 "plain host=$host proto=$http_x_forwarded_proto xff=$http_x_forwarded_for\\n"; }
  }
  server {
    listen [${ADDR.backendV6}]:8443 ssl;
    ssl_certificate ${backendCert.certFile};
    ssl_certificate_key ${backendCert.keyFile};
    location / { return 200 "tls sni=$ssl_server_name from=$remote_addr\\n"; }
  }
`,
  );

  const dns = await startDnsmasq(backend, {
    listen: ADDR.dnsV6,
    zone: ZONE,
    records: [{ name: `web.${SVC}`, aaaa: [ADDR.backendV6], ttl: 300 }],
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
    sniffTimeoutMs: 5000
timeouts: { connectMs: 3000 }
drain: { announceSeconds: 0, timeoutSeconds: 2 }
resolver:
  servers: ["${dns.server}"]
  timeoutMs: 1000
  attempts: 1
backends:
  allow: ["2001:db8:10::/48"]
  deny: []   # the default denies 2001:db8::/32 (documentation), which is all this test uses
tls:
  certificates:
    - certFile: ${edgeCert.certFile}
      keyFile: ${edgeCert.keyFile}
  requireCertificates: true
routes:
  - host: app.example.com
    target: web.${SVC}
    port: 8080
    tls: terminate
  - host: secure.example.com
    target: web.${SVC}
    port: 8443
`,
  );

  /** curl from the IPv4-only client to edge46's IPv4 address, port 443, verifying against `ca`. */
  const curl = (name: string, ca: string, ...extra: string[]) =>
    client.exec([
      'curl',
      '-sS',
      '--max-time',
      '10',
      '--cacert',
      ca,
      '--resolve',
      `${name}:443:${ADDR.edgeV4}`,
      '-w',
      '|%{http_version}',
      ...extra,
      `https://${name}/`,
    ]);

  t.test('the client namespace has no IPv6 and cannot reach the backend itself', async (t) => {
    const direct = await client.exec([
      'curl',
      '-sS',
      '-g',
      '--max-time',
      '3',
      `http://[${ADDR.backendV6}]:8080/`,
    ]);
    t.not(direct.code, 0);
  });

  t.test('a terminate name: edge46 certificate, then plain HTTP to the IPv6-only nginx', async (t) => {
    for (const version of ['--http1.1', '--http2']) {
      const from = nginx.mark();
      const res = await curl('app.example.com', edgeCert.certFile, version);
      t.equal(res.code, 0, res.stderr);
      t.equal(
        res.stdout,
        `plain host=app.example.com proto=https xff=${ADDR.clientV4}\n|${version === '--http2' ? '2' : '1.1'}`,
      );
      const access = await nginx.access(from, (r) => r.host === 'app.example.com');
      t.match(access, {
        remote_addr: ADDR.edgeV6,
        x_forwarded_for: ADDR.clientV4,
        x_forwarded_proto: 'https',
        server_port: '8080',
      });
    }
    const wrong = await curl('app.example.com', backendCert.certFile);
    t.equal(wrong.code, 60, "nginx's certificate is not what a terminate name shows");
  });

  t.test('a passthrough name on the same address and port: nginx own TLS end to end', async (t) => {
    const from = nginx.mark();
    const res = await curl('secure.example.com', backendCert.certFile);
    t.equal(res.code, 0, res.stderr);
    t.equal(
      res.stdout,
      `tls sni=secure.example.com from=${ADDR.edgeV6}\n|1.1`,
      'nginx itself negotiated (no h2 there)',
    );
    const access = await nginx.access(from, (r) => r.ssl_server_name === 'secure.example.com');
    t.match(access, { server_port: '8443', remote_addr: ADDR.edgeV6, x_forwarded_for: '' });
    const wrong = await curl('secure.example.com', edgeCert.certFile);
    t.equal(wrong.code, 60, "edge46's certificate is not what a passthrough name shows");
  });

  t.test('both were served by one listener on one IPv4 address and port', async (t) => {
    t.match(edge46.listening, [{ listener: 'https', address: `${ADDR.edgeV4}:443` }]);
    const lines = edge46.child.jsonLines();
    t.ok(lines.some((r) => r.msg === 'request' && r.host === 'app.example.com' && r.listener === 'https'));
    t.ok(
      lines.some(
        (r) => r.msg === 'connection closed' && r.sni === 'secure.example.com' && r.listener === 'https',
      ),
    );
    t.notOk(lines.some((r) => r.msg?.toString().startsWith('no certificate for terminate route')));
  });

  t.test('edge46 stops cleanly on SIGTERM', async (t) => {
    const exit = await edge46.stop();
    t.same(exit, { code: 0, signal: null });
  });
}
