// Run by client-address-netns.test.ts inside a private network namespace with 64:ff9b::c000:20a on lo
// and `ip -6 route add local 64:ff9b:1::/96 dev lo`. Not a *.test.ts file: it needs that set-up.
import { once } from 'node:events';
import { connect } from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { testConfig, withEdge } from '../helpers/edge.js';
import { startProxiedTlsBackend } from '../helpers/proxy-backend.js';
import { startTlsBackend, testPki } from '../helpers/tls-backend.js';

if (process.env.EDGE46_CLIENT_NETNS !== '1') {
  t.plan(0, 'only inside the namespace client-address-netns.test.ts creates');
  process.exit(0);
}

const NAT64_CLIENT = '64:ff9b::c000:20a'; // 192.0.2.10 through an RFC 6052 translator
const NAT46_PREFIX = '64:ff9b:1::/96';

/** TLS from the NAT64 client address to the edge on [::1]; resolves with the first line answered. */
async function fetchFromNat64Client(port: number, servername: string): Promise<string> {
  const raw = connect({ host: '::1', port, localAddress: NAT64_CLIENT });
  await once(raw, 'connect');
  const socket = tls.connect({
    socket: raw,
    servername,
    ca: testPki.ca,
    checkServerIdentity: () => undefined,
  });
  socket.setEncoding('utf8');
  let text = '';
  socket.on('data', (d: string) => (text += d));
  await once(socket, 'secureConnect');
  await new Promise<void>((resolve) => socket.on('data', () => text.includes('\n') && resolve()));
  socket.destroy();
  return text.slice(0, text.indexOf('\n') + 1);
}

const listener = (extra: Record<string, unknown>, backendPort: number) => ({
  name: 'tls',
  address: '[::1]:0',
  protocol: 'tls' as const,
  backendPort,
  clientNat64Prefixes: ['64:ff9b::/96'],
  ...extra,
});

t.test('a client inside the NAT64 prefix is its embedded IPv4 address: logs and PROXY TCP4', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [listener({ proxyProtocol: 'v2' }, backend.port)],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  const line = await fetchFromNat64Client(edge.port(), 'web.example');
  t.match(line, /^192\.0\.2\.10 \d+ tcp4 v2 web\.example ::1\n$/, 'the backend sees the IPv4 client');
  const header = (await backend.connection(0)).header;
  // The edge's own [::1] has no IPv4 form: the destination becomes 0.0.0.0 with the real port.
  t.same(header.destination, { address: '0.0.0.0', port: edge.port() });
  t.match(await edge.logs.connection(0), {
    outcome: 'ok',
    client: '192.0.2.10',
    peer: new RegExp(`^\\[${NAT64_CLIENT}\\]:\\d+$`),
    proxyProtocol: 'v2',
  });
});

t.test('NAT46: the backend sees the prefix with the client IPv4 embedded, and answers', async (t) => {
  const backend = await startTlsBackend(t, 'nat46', (socket) => {
    socket.end(`${socket.remoteAddress ?? ''}\n`);
  });
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [listener({ sourceNat46Prefix: NAT46_PREFIX }, backend.port)],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  t.ok(
    edge.logs.records.some(
      (r) => r.prefix === NAT46_PREFIX && (r.method === 'freebind' || r.method === 'nonlocal-bind'),
    ),
    'the start-up probe logged the method in use',
  );
  t.equal(await fetchFromNat64Client(edge.port(), 'web.example'), '64:ff9b:1::c000:20a\n');
  t.match(await edge.logs.connection(0), {
    client: '192.0.2.10',
    source: '64:ff9b:1::c000:20a',
    outcome: 'ok',
  });
});

t.test('NAT46 and PROXY v1 together: the header still names the IPv4 client', async (t) => {
  const backend = await startProxiedTlsBackend(t);
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [listener({ sourceNat46Prefix: NAT46_PREFIX, proxyProtocol: 'v1' }, backend.port)],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  t.match(
    await fetchFromNat64Client(edge.port(), 'web.example'),
    /^192\.0\.2\.10 \d+ tcp4 v1 - 64:ff9b:1::c000:20a\n$/,
  );
});

t.test('start-up fails with the reason when the prefix cannot be used', async (t) => {
  const config = testConfig({
    listeners: [listener({ sourceNat46Prefix: '64:ff9b:2::/96' }, 443)],
    routes: [{ host: 'web.example', target: '[::1]:443' }],
  });
  await t.rejects(
    withEdge(t, config),
    /NAT46 source addresses unusable:\n.*ip -6 route add local 64:ff9b:2::\/96 dev lo/,
  );
});

t.test('a reload that adds an unusable NAT46 prefix is rejected; the running config stays', async (t) => {
  const backend = await startTlsBackend(t, 'reload', (socket) =>
    socket.end(`${socket.remoteAddress ?? ''}\n`),
  );
  const input = testConfig({
    listeners: [listener({ sourceNat46Prefix: NAT46_PREFIX }, backend.port)],
    routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
  });
  const edge = await withEdge(t, input);
  const next = validateConfig({
    ...input,
    routes: [{ host: 'web.example', target: `[::1]:${backend.port}`, sourceNat46Prefix: '64:ff9b:2::/96' }],
  });
  if (!next.ok) throw new Error(JSON.stringify(next.problems));
  await t.rejects(edge.app.reload(next.config), /ip -6 route add local 64:ff9b:2::\/96 dev lo/);
  t.equal(
    await fetchFromNat64Client(edge.port(), 'web.example'),
    '64:ff9b:1::c000:20a\n',
    'still served as before',
  );
});

t.test('a NAT46 prefix is never dialled, even when the allowlist covers it', async (t) => {
  const r = validateConfig(
    testConfig({
      listeners: [listener({ sourceNat46Prefix: NAT46_PREFIX }, 443)],
      backends: { allow: ['::1/128', '64:ff9b:1::/48'], deny: [] },
      routes: [{ host: 'web.example', target: '[64:ff9b:1::5]:443' }],
    }),
  );
  t.match(r.ok ? [] : r.problems, [
    { path: 'routes[0].target', message: /inside the NAT46 source prefix 64:ff9b:1::\/96/ },
  ]);
  // At dial time (a resolved name pointing there) the address policy refuses it.
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [listener({ sourceNat46Prefix: NAT46_PREFIX }, 443)],
      backends: { allow: ['::1/128', '64:ff9b:1::/48'], deny: [] },
    }),
  );
  t.same(edge.app.current().policy.check('64:ff9b:1::5'), {
    allowed: false,
    reason: 'reserved prefix 64:ff9b:1::/96',
  });
  t.same(
    edge.app.current().policy.check('64:ff9b:1:1::5'),
    { allowed: true },
    'the rest of the /48 stays dialable',
  );
});
