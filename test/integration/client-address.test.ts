// The client's address through edge46 on loopback: PROXY headers sent to a backend on [::1] (v1, v2,
// per route), the IPv4 client of a dual-stack listener sent as TCP4, and PROXY headers accepted from a
// trusted load balancer (and refused from anyone else). NAT64 clients and NAT46 sources need addresses
// that loopback does not have: client-address-netns.test.ts.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { encodeProxyV2 } from '../../src/connect/proxy-header.js';
import { testConfig, withEdge, type Edge } from '../helpers/edge.js';
import { startProxiedTlsBackend } from '../helpers/proxy-backend.js';
import { testPki } from '../helpers/tls-backend.js';

/** TLS through the edge (optionally over a socket that already carried a PROXY header); the line read. */
async function fetchLine(
  port: number,
  servername: string,
  opts: { host?: string; preamble?: Buffer; alpn?: string[] } = {},
): Promise<string> {
  const host = opts.host ?? '127.0.0.1';
  const raw: Socket = connect({ host, port });
  await once(raw, 'connect');
  // Header and ClientHello in one segment where the kernel allows: the edge must put back what follows
  // the header.
  raw.cork();
  if (opts.preamble !== undefined) raw.write(opts.preamble);
  const socket = tls.connect({
    socket: raw,
    servername,
    ca: testPki.ca,
    checkServerIdentity: () => undefined,
    ...(opts.alpn === undefined ? {} : { ALPNProtocols: opts.alpn }),
  });
  process.nextTick(() => raw.uncork());
  socket.setEncoding('utf8');
  let line = '';
  socket.on('data', (d: string) => (line += d));
  await once(socket, 'end');
  socket.end();
  return line;
}

/** A raw client that sends `bytes` and waits for the edge to close; resolves with what came back. */
async function sendRaw(port: number, bytes: Buffer): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setEncoding('latin1');
  let got = '';
  socket.on('data', (d: string) => (got += d));
  socket.on('error', () => {});
  socket.end(bytes);
  await once(socket, 'close');
  return got;
}

async function edgeWith(
  t: Test,
  backendPort: number,
  listener: Record<string, unknown>,
  routeExtra: Record<string, unknown> = {},
): Promise<Edge> {
  return withEdge(
    t,
    testConfig({
      listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls', backendPort, ...listener }],
      routes: [
        { host: 'web.example', target: `[::1]:${backendPort}` },
        { host: 'other.example', target: `[::1]:${backendPort}`, ...routeExtra },
      ],
    }),
  );
}

t.test('proxyProtocol v1 precedes the ClientHello; the backend terminates TLS after it', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await edgeWith(t, backend.port, { proxyProtocol: 'v1' });
  const line = await fetchLine(edge.port(), 'web.example');
  const conn = await backend.connection(0);
  t.equal(line, `127.0.0.1 ${conn.header.source?.port} tcp4 v1 - ::1\n`);
  t.equal(conn.servername, 'web.example');
  t.same(conn.header.destination, { address: '127.0.0.1', port: edge.port() });
  t.match(await edge.logs.connection(0), { outcome: 'ok', proxyProtocol: 'v1', client: '127.0.0.1' });
});

t.test('proxyProtocol v2 carries the SNI as AUTHORITY; a route overrides the listener', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await edgeWith(t, backend.port, { proxyProtocol: 'v2' }, { proxyProtocol: 'v1' });
  t.match(
    await fetchLine(edge.port(), 'web.example', { alpn: ['h2'] }),
    /^127\.0\.0\.1 \d+ tcp4 v2 web\.example ::1\n$/,
  );
  const first = await backend.connection(0);
  t.equal(first.header.tlvs.get(1)?.toString(), 'h2', 'the single offered ALPN');
  t.match(await fetchLine(edge.port(), 'other.example', { alpn: ['h2', 'http/1.1'] }), / tcp4 v1 - /);
  const second = await fetchLine(edge.port(), 'web.example', { alpn: ['h2', 'http/1.1'] });
  t.match(second, / v2 web\.example /);
  t.equal(
    (await backend.connection(2)).header.tlvs.get(1),
    undefined,
    'no ALPN TLV when several were offered',
  );
});

t.test('an IPv4 client of a dual-stack listener is sent as TCP4, never ::ffff: TCP6', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await edgeWith(t, backend.port, { address: '[::]:0', proxyProtocol: 'v1' });
  const line = await fetchLine(edge.port(), 'web.example');
  t.match(line, /^127\.0\.0\.1 \d+ tcp4 v1 /);
  const conn = await backend.connection(0);
  t.same(conn.header.destination?.address, '127.0.0.1');
  const v2Edge = await edgeWith(t, backend.port, { address: '[::]:0', proxyProtocol: 'v2' });
  t.match(await fetchLine(v2Edge.port(), 'web.example'), /^127\.0\.0\.1 \d+ tcp4 v2 /);
  t.match(await v2Edge.logs.connection(0), { client: '127.0.0.1' });
});

t.test('an IPv6 client is sent as TCP6', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await edgeWith(t, backend.port, { address: '[::1]:0', proxyProtocol: 'v2' });
  t.match(
    await fetchLine(edge.port(), 'web.example', { host: '::1' }),
    /^::1 \d+ tcp6 v2 web\.example ::1\n$/,
  );
});

t.test('acceptProxyProtocol: the header from a trusted peer names the client everywhere', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await edgeWith(t, backend.port, {
    proxyProtocol: 'v2',
    acceptProxyProtocol: true,
    trustedProxies: ['127.0.0.0/8'],
  });
  const v1 = Buffer.from('PROXY TCP4 198.51.100.7 203.0.113.1 40000 443\r\n');
  t.equal(
    await fetchLine(edge.port(), 'web.example', { preamble: v1 }),
    '198.51.100.7 40000 tcp4 v2 web.example ::1\n',
  );
  const log = await edge.logs.connection(0);
  t.match(log, { outcome: 'ok', client: '198.51.100.7', clientPort: 40000, peer: /^127\.0\.0\.1:\d+$/ });
  t.same((await backend.connection(0)).header.destination, { address: '203.0.113.1', port: 443 });

  const v2 = encodeProxyV2(
    { address: '2001:db8:c::5', port: 1 },
    { address: '2001:db8::443', port: 443 },
    { authority: 'x' },
  );
  t.equal(
    await fetchLine(edge.port(), 'web.example', { preamble: v2 }),
    '2001:db8:c::5 1 tcp6 v2 web.example ::1\n',
  );

  const local = Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex');
  t.match(
    await fetchLine(edge.port(), 'web.example', { preamble: local }),
    /^127\.0\.0\.1 \d+ tcp4 v2 /,
    'LOCAL: the peer',
  );
});

t.test('acceptProxyProtocol: untrusted peers and bad headers are closed and logged', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const untrusted = await edgeWith(t, backend.port, {
    acceptProxyProtocol: true,
    trustedProxies: ['10.0.0.0/8'],
  });
  const header = Buffer.from('PROXY TCP4 198.51.100.7 203.0.113.1 40000 443\r\n');
  t.equal(await sendRaw(untrusted.port(), header), '', 'closed without a reply');
  t.match(await untrusted.logs.connection(0), {
    outcome: 'blocked',
    code: 'EDGE_UNTRUSTED_PROXY',
    client: '127.0.0.1',
    reason: /peer 127\.0\.0\.1 is not in trustedProxies/,
  });

  const trusted = await edgeWith(t, backend.port, {
    acceptProxyProtocol: true,
    trustedProxies: ['127.0.0.1/32'],
  });
  t.equal(await sendRaw(trusted.port(), Buffer.from('GET / HTTP/1.1\r\nHost: web.example\r\n\r\n')), '');
  t.match(await trusted.logs.connection(0), { outcome: 'bad_hello', code: 'EDGE_BAD_PROXY_HEADER' });
  t.equal(await sendRaw(trusted.port(), Buffer.from('PROXY TCP4 1.2.3.4\r\n')), '');
  t.match(await trusted.logs.connection(1), { code: 'EDGE_BAD_PROXY_HEADER', reason: /fields/ });
  t.equal(await sendRaw(trusted.port(), Buffer.from('PROXY TCP4 1.2.3')), '', 'closed mid-header');
  t.match(await trusted.logs.connection(2), { code: 'EDGE_CLIENT_CLOSED' });
  t.equal(backend.connections.length, 0, 'the backend was never reached');
});

t.test('http listeners: an accepted PROXY header is the client of the forwarding headers', async (t) => {
  const seen: (string | undefined)[] = [];
  const backend = createServer((req, res) => {
    seen.push(req.headers['x-forwarded-for'] as string | undefined);
    res.end(`xff ${String(req.headers['x-forwarded-for'])}\n`);
  });
  backend.listen(0, '::1');
  await once(backend, 'listening');
  t.teardown(() => backend.close());
  const port = (backend.address() as AddressInfo).port;
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [
        {
          name: 'web',
          address: '127.0.0.1:0',
          protocol: 'http',
          acceptProxyProtocol: true,
          trustedProxies: ['127.0.0.1/32'],
        },
      ],
      routes: [{ host: 'web.example', target: `[::1]:${port}` }],
    }),
  );
  // Header and request in one write: the listener must hand the request bytes to the HTTP server.
  const reply = await sendRaw(
    edge.port(),
    Buffer.from(
      'PROXY TCP4 198.51.100.7 203.0.113.1 40000 80\r\n' +
        'GET / HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n',
    ),
  );
  t.match(reply, /^HTTP\/1\.1 200 /);
  t.match(reply, /xff 198\.51\.100\.7\n$/);
  t.same(seen, ['198.51.100.7']);
});
