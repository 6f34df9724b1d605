// The client's IPv4 address reaches a real IPv6-only nginx through edge46 (a real process) over TLS
// passthrough: PROXY protocol v1 and v2 (`listen … ssl proxy_protocol`, nginx logs $proxy_protocol_addr),
// NAT46 source addresses (nginx's $remote_addr is the prefix with the client IPv4 embedded, and the
// response comes back over the route on the backend side), and a chained set-up in which the IPv4
// client plays a trusted load balancer that sends its own PROXY header to edge46.
import t from 'tap';
import { loadNative } from '../../src/pipe/native.js';
import { ADDR, createTopology, requireNetns } from '../helpers/netns.js';
import { makeSelfSignedCert } from './certs.js';
import { startEdge46 } from './edge46.js';
import { startNginx } from './nginx.js';

// The client script may end a finished TLS exchange with a RST (a close_notify crossing the server's
// close), which edge46 truthfully logs as a reset; what these tests check is the address the backend saw.
const SERVED = /^(ok|reset)$/;
const NAMES = ['v1.example', 'v2.example', 'nat46.example', 'both.example', 'chained.example'];

// GET / over TLS to edge46 from the client namespace, optionally after a PROXY v1 line of our own (argv);
// prints the response body. Reads to EOF (Connection: close) so that the close is clean.
const CLIENT_SCRIPT = `
const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const [host, port, servername, ca, preamble] = process.argv.slice(1);
const raw = net.connect({ host, port: Number(port) }, () => {
  if (preamble) raw.write(preamble);
  const socket = tls.connect({ socket: raw, servername, ca: fs.readFileSync(ca) }, () => {
    socket.write('GET / HTTP/1.1\\r\\nHost: ' + servername + '\\r\\nConnection: close\\r\\n\\r\\n');
  });
  let body = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => (body += d));
  socket.on('end', () => process.stdout.write(body.split('\\r\\n\\r\\n')[1] ?? ''));
  socket.on('error', (e) => { console.error(e.message); process.exitCode = 1; });
});
raw.on('error', (e) => { console.error(e.message); process.exitCode = 1; });
`;

if (requireNetns(t)) {
  const topo = await createTopology(t);
  const { client, edge, backend } = topo;
  // IP_FREEBIND from the native addon when it is built; otherwise the sysctl fall-back.
  const method = loadNative() === null ? 'nonlocal-bind' : 'freebind';
  await topo.addNat46Prefix(ADDR.nat46Prefix, { nonlocalBind: method === 'nonlocal-bind' });
  const cert = await makeSelfSignedCert(t, NAMES);
  const b = ADDR.backendV6;

  const nginx = await startNginx(
    t,
    backend,
    `
  ssl_certificate ${cert.certFile};
  ssl_certificate_key ${cert.keyFile};
  server {
    listen [${b}]:8443 ssl proxy_protocol;
    location / { return 200 "pp $proxy_protocol_addr:$proxy_protocol_port from $remote_addr\\n"; }
  }
  server {
    listen [${b}]:8445 ssl;
    location / { return 200 "plain from $remote_addr\\n"; }
  }
`,
  );

  const edge46 = await startEdge46(
    t,
    edge,
    `
listeners:
  - name: https
    address: "${ADDR.edgeV4}:443"
    protocol: tls
    sniffTimeoutMs: 5000
  - name: from-lb
    address: "${ADDR.edgeV4}:444"
    protocol: tls
    acceptProxyProtocol: true
    trustedProxies: ["${ADDR.clientV4}/32"]
    proxyProtocol: v2
  - name: untrusted-lb
    address: "${ADDR.edgeV4}:445"
    protocol: tls
    acceptProxyProtocol: true
    trustedProxies: ["10.0.0.0/8"]
    proxyProtocol: v2
timeouts: { connectMs: 3000 }
backends:
  allow: ["2001:db8:10::/48"]
  deny: []   # the default denies 2001:db8::/32 (documentation), which is all this test uses
routes:
  - host: v1.example
    target: "[${b}]:8443"
    proxyProtocol: v1
  - host: v2.example
    target: "[${b}]:8443"
    proxyProtocol: v2
  - host: nat46.example
    target: "[${b}]:8445"
    sourceNat46Prefix: "${ADDR.nat46Prefix}"
  - host: both.example
    target: "[${b}]:8443"
    proxyProtocol: v2
    sourceNat46Prefix: "${ADDR.nat46Prefix}"
  - host: chained.example
    target: "[${b}]:8443"
`,
    { listenerCount: 3 },
  );

  const fetch = async (name: string, port = 443, preamble?: string) => {
    const from = edge46.mark();
    const fromNginx = nginx.mark();
    const res = await client.exec([
      process.execPath,
      '-e',
      CLIENT_SCRIPT,
      ADDR.edgeV4,
      String(port),
      name,
      cert.certFile,
      ...(preamble === undefined ? [] : [preamble]),
    ]);
    const log = await edge46.connectionClosed(from, (r) => r.sni === name || r.code !== undefined);
    return { ...res, log, fromNginx };
  };

  t.test('NAT46 start-up probe passed and named its method', (t) => {
    t.ok(
      edge46.child.jsonLines().some((r) => r.prefix === ADDR.nat46Prefix && r.method === method),
      method,
    );
    t.end();
  });

  for (const version of ['v1', 'v2'] as const) {
    t.test(`PROXY ${version}: nginx logs the IPv4 client as $proxy_protocol_addr`, async (t) => {
      const res = await fetch(`${version}.example`);
      t.equal(res.code, 0, res.stderr);
      t.match(res.stdout, new RegExp(`^pp ${ADDR.clientV4}:\\d+ from ${ADDR.edgeV6}\\n$`));
      t.match(await nginx.access(res.fromNginx, (r) => r.host === `${version}.example`), {
        proxy_protocol_addr: ADDR.clientV4,
        remote_addr: ADDR.edgeV6,
        ssl_server_name: `${version}.example`,
        status: 200,
      });
      t.match(res.log, { outcome: SERVED, client: ADDR.clientV4, proxyProtocol: version });
    });
  }

  t.test(
    "sourceNat46Prefix: nginx's $remote_addr embeds the client IPv4, and the answer comes back",
    async (t) => {
      const res = await fetch('nat46.example');
      t.equal(res.code, 0, res.stderr);
      t.equal(res.stdout, `plain from ${ADDR.nat46Client}\n`);
      t.match(await nginx.access(res.fromNginx, (r) => r.host === 'nat46.example'), {
        remote_addr: ADDR.nat46Client,
        status: 200,
      });
      t.match(res.log, { outcome: SERVED, client: ADDR.clientV4, source: ADDR.nat46Client });
    },
  );

  t.test('NAT46 source and PROXY v2 together', async (t) => {
    const res = await fetch('both.example');
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, new RegExp(`^pp ${ADDR.clientV4}:\\d+ from ${ADDR.nat46Client}\\n$`));
  });

  t.test('chained: a trusted load balancer sends a PROXY header, nginx sees the address in it', async (t) => {
    const res = await fetch('chained.example', 444, `PROXY TCP4 198.51.100.7 ${ADDR.edgeV4} 40000 444\r\n`);
    t.equal(res.code, 0, res.stderr);
    t.equal(res.stdout, `pp 198.51.100.7:40000 from ${ADDR.edgeV6}\n`);
    t.match(await nginx.access(res.fromNginx, (r) => r.host === 'chained.example'), {
      proxy_protocol_addr: '198.51.100.7',
      proxy_protocol_port: '40000',
    });
    t.match(res.log, {
      outcome: SERVED,
      listener: 'from-lb',
      client: '198.51.100.7',
      clientPort: 40000,
      peer: new RegExp(`^${ADDR.clientV4.replaceAll('.', '\\.')}:\\d+$`),
    });
  });

  t.test('a PROXY header from a peer outside trustedProxies: closed, never forwarded', async (t) => {
    const from = nginx.mark();
    const res = await fetch('chained.example', 445, `PROXY TCP4 198.51.100.7 ${ADDR.edgeV4} 40000 445\r\n`);
    t.not(res.code, 0, 'the client sees the connection closed');
    t.match(res.log, {
      outcome: 'blocked',
      code: 'EDGE_UNTRUSTED_PROXY',
      listener: 'untrusted-lb',
      client: ADDR.clientV4,
    });
    t.equal(nginx.accessLog.stdout.length, from, 'nginx saw no request');
  });
}
