// End-to-end plain HTTP with real hosts: curl in the IPv4-only client namespace → edge46 (a real
// process, dist/src/main.js) on an http listener in the dual-stack edge → a real nginx, IPv6-only, in the
// backend namespace, found by name through a real dnsmasq. nginx's own access log must show the client's
// IPv4 address in X-Forwarded-For (and Forwarded), and the edge as the peer.
import t from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { ADDR, createTopology, requireNetns } from '../helpers/netns.js';
import { startEdge46 } from './edge46.js';
import { startNginx } from './nginx.js';

const ZONE = 'c2.k8s.example';
const SVC = `default.svc.${ZONE}`;

if (requireNetns(t)) {
  const topo = await createTopology(t);
  const { client, edge, backend } = topo;

  const nginx = await startNginx(
    t,
    backend,
    `
  server {
    listen [${ADDR.backendV6}]:80;
    location / { return 200 "nginx host=$host xff=$http_x_forwarded_for\\n"; }
    location /echo { return 200 "length=$content_length\\n"; }
  }
`,
  );

  const dns = await startDnsmasq(backend, {
    listen: ADDR.dnsV6,
    zone: ZONE,
    records: [
      { name: `web.${SVC}`, aaaa: [ADDR.backendV6], ttl: 300 },
      { name: `legacy.${SVC}`, a: ['192.0.2.80'], ttl: 300 },
    ],
    t,
  });

  const edge46 = await startEdge46(
    t,
    edge,
    `
listeners:
  - name: http
    address: "${ADDR.edgeV4}:80"
    protocol: http
    backendPort: 80
timeouts: { connectMs: 3000 }
resolver:
  servers: ["${dns.server}"]
  timeoutMs: 1000
  attempts: 1
backends:
  allow: ["2001:db8:10::/48"]
  deny: []   # the default denies 2001:db8::/32 (documentation), which is all this test uses
routes:
  - host: "*.svc.${ZONE}"
    target: "{host}"
  - host: "static.example"
    target: "[${ADDR.backendV6}]:80"
`,
  );

  /** curl from the IPv4-only client to edge46 with `host` as the Host header; extra args appended. */
  const curl = async (host: string, ...extra: string[]) => {
    const from = edge46.mark();
    const res = await client.exec([
      'curl',
      '-sS',
      '--max-time',
      '10',
      '-H',
      `Host: ${host}`,
      ...extra,
      `http://${ADDR.edgeV4}/`,
    ]);
    const log = await edge46.child.waitForJson((r) => r.msg === 'request' && r.host === host, 10_000, {
      from,
    });
    return { ...res, log };
  };

  t.test('edge46 listens on the edge IPv4 address with an http listener', (t) => {
    t.match(edge46.listening, [{ listener: 'http', protocol: 'http', address: `${ADDR.edgeV4}:80` }]);
    t.end();
  });

  t.test("curl -H 'Host: …' from the IPv4-only client reaches the IPv6-only nginx by name", async (t) => {
    const from = nginx.mark();
    const res = await curl(`web.${SVC}`);
    t.equal(res.code, 0, res.stderr);
    t.equal(res.stdout, `nginx host=web.${SVC} xff=${ADDR.clientV4}\n`);
    const access = await nginx.access(from, (r) => r.host === `web.${SVC}`);
    t.match(access, {
      remote_addr: ADDR.edgeV6,
      x_forwarded_for: ADDR.clientV4,
      x_forwarded_proto: 'http',
      x_forwarded_host: `web.${SVC}`,
      forwarded: `for=${ADDR.clientV4};host=web.${SVC};proto=http`,
      request: 'GET / HTTP/1.1',
      status: 200,
    });
    t.match(res.log, {
      outcome: 'ok',
      status: 200,
      client: ADDR.clientV4,
      listener: 'http',
      route: `*.svc.${ZONE}`,
      upstream: `[${ADDR.backendV6}]:80`,
    });
  });

  t.test('a spoofed X-Forwarded-For from the client is replaced', async (t) => {
    const from = nginx.mark();
    const res = await curl('static.example', '-H', 'X-Forwarded-For: 203.0.113.66');
    t.equal(res.stdout, `nginx host=static.example xff=${ADDR.clientV4}\n`);
    t.match(await nginx.access(from, (r) => r.host === 'static.example'), { x_forwarded_for: ADDR.clientV4 });
  });

  t.test('a body travels through edge46 and nginx', async (t) => {
    const from = edge46.mark();
    const res = await client.exec([
      'curl',
      '-sS',
      '--max-time',
      '10',
      '-H',
      `Host: web.${SVC}`,
      '--data-binary',
      'x'.repeat(5000),
      `http://${ADDR.edgeV4}/echo`,
    ]);
    t.equal(res.stdout, 'length=5000\n', res.stderr);
    t.match(
      await edge46.child.waitForJson((r) => r.msg === 'request' && r.path === '/echo', 10_000, { from }),
      {
        method: 'POST',
        bytesIn: 5000,
        status: 200,
      },
    );
  });

  t.test('refusals reach the client as HTTP errors', async (t) => {
    const unknown = await curl('www.example.org', '-w', '%{http_code}', '-o', '/dev/null');
    t.equal(unknown.stdout, '421');
    t.match(unknown.log, { code: 'EDGE_NO_ROUTE', status: 421, client: ADDR.clientV4 });
    const aOnly = await curl(`legacy.${SVC}`, '-w', '%{http_code}', '-o', '/dev/null');
    t.equal(aOnly.stdout, '502');
    t.match(aOnly.log, { code: 'EDGE_RESOLVE_NODATA', status: 502 });
  });
}
