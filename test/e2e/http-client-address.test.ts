// The client's IPv4 address reaches a real IPv6-only nginx through edge46 (a real process) over an
// http listener: PROXY protocol v1 and v2 (`listen … proxy_protocol` in nginx's http block, logging
// $proxy_protocol_addr), one header per client connection even when it carries several requests, and
// NAT46 source addresses (nginx's $remote_addr is the prefix with the client IPv4 embedded, and the
// response comes back over the route on the backend side).
import t from 'tap';
import { loadNative } from '../../src/pipe/native.js';
import { ADDR, createTopology, requireNetns } from '../helpers/netns.js';
import { startEdge46 } from './edge46.js';
import { startNginx } from './nginx.js';

if (requireNetns(t)) {
  const topo = await createTopology(t);
  const { client, edge, backend } = topo;
  const method = loadNative() === null ? 'nonlocal-bind' : 'freebind';
  await topo.addNat46Prefix(ADDR.nat46Prefix, { nonlocalBind: method === 'nonlocal-bind' });
  const b = ADDR.backendV6;

  const nginx = await startNginx(
    t,
    backend,
    `
  server {
    listen [${b}]:8080 proxy_protocol;
    location / { return 200 "pp $proxy_protocol_addr:$proxy_protocol_port from $remote_addr xff=$http_x_forwarded_for\\n"; }
  }
  server {
    listen [${b}]:8081;
    location / { return 200 "plain from $remote_addr\\n"; }
  }
`,
  );

  const edge46 = await startEdge46(
    t,
    edge,
    `
listeners:
  - name: http
    address: "${ADDR.edgeV4}:80"
    protocol: http
timeouts: { connectMs: 3000 }
backends:
  allow: ["2001:db8:10::/48"]
  deny: []   # the default denies 2001:db8::/32 (documentation), which is all this test uses
routes:
  - host: v1.example
    target: "[${b}]:8080"
    proxyProtocol: v1
  - host: v2.example
    target: "[${b}]:8080"
    proxyProtocol: v2
  - host: nat46.example
    target: "[${b}]:8081"
    sourceNat46Prefix: "${ADDR.nat46Prefix}"
  - host: both.example
    target: "[${b}]:8080"
    proxyProtocol: v2
    sourceNat46Prefix: "${ADDR.nat46Prefix}"
`,
  );

  /** curl from the IPv4-only client with `host` as the Host header, `count` requests on one connection. */
  const curl = async (host: string, count = 1) => {
    const from = edge46.mark();
    const fromNginx = nginx.mark();
    const urls = Array.from({ length: count }, (_, i) => `http://${ADDR.edgeV4}/${i}`);
    const res = await client.exec(['curl', '-sS', '--max-time', '10', '-H', `Host: ${host}`, ...urls]);
    let seen = 0;
    await edge46.child.waitForJson(
      (r) => r.msg === 'request' && r.host === host && ++seen === count,
      10_000,
      {
        from,
      },
    );
    const logs = edge46.child
      .jsonLines()
      .slice(from)
      .filter((r) => r.msg === 'request' && r.host === host);
    return { ...res, logs, fromNginx };
  };

  for (const version of ['v1', 'v2'] as const) {
    t.test(
      `PROXY ${version} over an http route: nginx logs the IPv4 client as $proxy_protocol_addr`,
      async (t) => {
        const res = await curl(`${version}.example`);
        t.equal(res.code, 0, res.stderr);
        t.match(
          res.stdout,
          new RegExp(`^pp ${ADDR.clientV4}:\\d+ from ${ADDR.edgeV6} xff=${ADDR.clientV4}\\n$`),
        );
        t.match(await nginx.access(res.fromNginx, (r) => r.host === `${version}.example`), {
          proxy_protocol_addr: ADDR.clientV4,
          remote_addr: ADDR.edgeV6,
          x_forwarded_for: ADDR.clientV4,
          status: 200,
        });
        t.match(res.logs, [
          {
            outcome: 'ok',
            status: 200,
            client: ADDR.clientV4,
            upstream: `[${b}]:8080`,
            proxyProtocol: version,
          },
        ]);
      },
    );
  }

  t.test('two requests on one client connection: one backend connection, one PROXY header', async (t) => {
    const res = await curl('v2.example', 2);
    t.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    t.equal(lines.length, 2);
    t.equal(lines[0], lines[1], 'the same client port in both: the same header');
    const first = await nginx.access(res.fromNginx, (r) => r.request === 'GET /0 HTTP/1.1');
    const second = await nginx.access(res.fromNginx, (r) => r.request === 'GET /1 HTTP/1.1');
    t.equal(second.proxy_protocol_port, first.proxy_protocol_port);
    t.match(res.logs, [{ reused: false }, { reused: true }]);
  });

  t.test("sourceNat46Prefix over an http route: nginx's $remote_addr embeds the client IPv4", async (t) => {
    const res = await curl('nat46.example');
    t.equal(res.code, 0, res.stderr);
    t.equal(res.stdout, `plain from ${ADDR.nat46Client}\n`);
    t.match(await nginx.access(res.fromNginx, (r) => r.host === 'nat46.example'), {
      remote_addr: ADDR.nat46Client,
      status: 200,
    });
    t.match(res.logs, [{ outcome: 'ok', status: 200, client: ADDR.clientV4, source: ADDR.nat46Client }]);
  });

  t.test('NAT46 source and PROXY v2 together over an http route', async (t) => {
    const res = await curl('both.example');
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, new RegExp(`^pp ${ADDR.clientV4}:\\d+ from ${ADDR.nat46Client} xff=`));
  });
}
