import t from 'tap';
import {
  clientResponseHeaders,
  forwardedElement,
  forwardedNode,
  requestHasBody,
  upstreamRequestHeaders,
  type Forwarding,
} from '../../../src/http/headers.js';
import { TrustedProxies } from '../../../src/http/trusted-proxies.js';

/** The list as [name, value] pairs with lowercased names, for readable assertions. */
function pairs(list: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([(list[i] ?? '').toLowerCase(), list[i + 1] ?? '']);
  return out;
}

function get(list: readonly string[], name: string): string[] {
  return pairs(list)
    .filter(([n]) => n === name)
    .map(([, v]) => v);
}

const untrusted: Forwarding = { client: '192.0.2.10', trusted: false, host: 'web.example', proto: 'http' };

t.test('hop-by-hop request headers are stripped, Connection-listed names too', async (t) => {
  const raw = [
    'Host',
    'ignored.example',
    'Connection',
    'keep-alive, X-Hop',
    'Connection',
    'Y-Hop',
    'Keep-Alive',
    'timeout=5',
    'Proxy-Connection',
    'keep-alive',
    'TE',
    'gzip',
    'Transfer-Encoding',
    'chunked',
    'Upgrade',
    'websocket',
    'Proxy-Authorization',
    'Basic eA==',
    'Trailer',
    'X-Sum',
    'Expect',
    '100-continue',
    'X-Hop',
    '1',
    'y-hop',
    '2',
    'Accept',
    'text/plain',
    'Set-Cookie-ish',
    'a',
    'Accept',
    'text/html',
  ];
  const out = upstreamRequestHeaders(raw, { authority: 'Web.Example:8080', forwarding: null });
  t.same(pairs(out), [
    ['host', 'Web.Example:8080'],
    ['accept', 'text/plain'],
    ['set-cookie-ish', 'a'],
    ['accept', 'text/html'],
  ]);
  t.equal(out[2], 'Accept', 'names keep their case');
});

t.test('TE: only "trailers" passes', async (t) => {
  const out = upstreamRequestHeaders(['TE', 'gzip, trailers;q=1'], {
    authority: 'a.example',
    forwarding: null,
  });
  t.same(get(out, 'te'), ['trailers']);
  t.same(get(upstreamRequestHeaders(['TE', 'gzip'], { authority: 'a', forwarding: null }), 'te'), []);
});

t.test('an upgrade request keeps Upgrade with Connection: upgrade only', async (t) => {
  const out = upstreamRequestHeaders(
    [
      'Connection',
      'Upgrade, HTTP2-Settings',
      'Upgrade',
      'websocket',
      'HTTP2-Settings',
      'x',
      'Sec-WebSocket-Key',
      'k',
    ],
    { authority: 'a.example', forwarding: null, upgrade: 'websocket' },
  );
  t.same(pairs(out), [
    ['host', 'a.example'],
    ['sec-websocket-key', 'k'],
    ['connection', 'upgrade'],
    ['upgrade', 'websocket'],
  ]);
});

t.test('from an untrusted client, forwarding headers are replaced', async (t) => {
  const raw = [
    'X-Forwarded-For',
    '203.0.113.9',
    'X-Forwarded-Proto',
    'https',
    'X-Forwarded-Host',
    'evil.example',
    'Forwarded',
    'for=203.0.113.9',
    'Accept',
    '*/*',
  ];
  const out = upstreamRequestHeaders(raw, { authority: 'web.example', forwarding: untrusted });
  t.same(get(out, 'x-forwarded-for'), ['192.0.2.10']);
  t.same(get(out, 'x-forwarded-proto'), ['http']);
  t.same(get(out, 'x-forwarded-host'), ['web.example']);
  t.same(get(out, 'forwarded'), ['for=192.0.2.10;host=web.example;proto=http']);
  t.same(get(out, 'accept'), ['*/*']);
});

t.test('from a trusted proxy, forwarding headers are kept and appended to', async (t) => {
  const raw = [
    'X-Forwarded-For',
    '203.0.113.9',
    'x-forwarded-for',
    ' 198.51.100.7 ',
    'X-Forwarded-Proto',
    'https',
    'X-Forwarded-Host',
    'public.example',
    'Forwarded',
    'for=203.0.113.9;proto=https',
  ];
  const out = upstreamRequestHeaders(raw, {
    authority: 'web.example:8080',
    forwarding: { client: '2001:db8::7', trusted: true, host: 'web.example:8080', proto: 'http' },
  });
  t.same(get(out, 'x-forwarded-for'), ['203.0.113.9, 198.51.100.7, 2001:db8::7']);
  t.same(get(out, 'x-forwarded-proto'), ['https']);
  t.same(get(out, 'x-forwarded-host'), ['public.example']);
  t.same(get(out, 'forwarded'), [
    'for=203.0.113.9;proto=https, for="[2001:db8::7]";host="web.example:8080";proto=http',
  ]);
});

t.test("forwardedHeaders off: the client's own pass untouched, none added", async (t) => {
  const out = upstreamRequestHeaders(['X-Forwarded-For', '203.0.113.9'], {
    authority: 'a',
    forwarding: null,
  });
  t.same(get(out, 'x-forwarded-for'), ['203.0.113.9']);
  t.same(get(out, 'forwarded'), []);
});

t.test('RFC 7239 node and element syntax', async (t) => {
  t.equal(forwardedNode('192.0.2.10'), '192.0.2.10');
  t.equal(forwardedNode('2001:db8::1'), '"[2001:db8::1]"');
  t.equal(forwardedNode('unknown'), 'unknown');
  t.equal(forwardedElement({ ...untrusted, host: 'a.example' }), 'for=192.0.2.10;host=a.example;proto=http');
  t.equal(forwardedElement({ ...untrusted, host: 'a"b' }), 'for=192.0.2.10;host="a\\"b";proto=http');
});

t.test('response headers: hop-by-hop out, end-to-end in, order and duplicates kept', async (t) => {
  const raw = [
    Buffer.from('Content-Type'),
    Buffer.from('text/plain'),
    Buffer.from('Connection'),
    Buffer.from('close, X-Private'),
    Buffer.from('X-Private'),
    Buffer.from('1'),
    Buffer.from('Transfer-Encoding'),
    Buffer.from('chunked'),
    Buffer.from('Keep-Alive'),
    Buffer.from('timeout=4'),
    Buffer.from('Proxy-Authenticate'),
    Buffer.from('Basic'),
    Buffer.from('Set-Cookie'),
    Buffer.from('a=1'),
    Buffer.from('Set-Cookie'),
    Buffer.from('b=2'),
    Buffer.from('Trailer'),
    Buffer.from('X-Sum'),
    Buffer.from('Upgrade'),
    Buffer.from('h2c'),
  ];
  t.same(pairs(clientResponseHeaders(raw)), [
    ['content-type', 'text/plain'],
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2'],
    ['trailer', 'X-Sum'],
  ]);
  t.same(pairs(clientResponseHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket'], { upgrade: true })), [
    ['connection', 'Upgrade'],
    ['upgrade', 'websocket'],
  ]);
});

t.test('requestHasBody follows RFC 9112 §6.3', async (t) => {
  t.equal(requestHasBody({}), false);
  t.equal(requestHasBody({ 'content-length': '0' }), false);
  t.equal(requestHasBody({ 'content-length': '5' }), true);
  t.equal(requestHasBody({ 'transfer-encoding': 'chunked' }), true);
});

t.test('trustedProxies: IPv4 and IPv6 prefixes', async (t) => {
  const trusted = TrustedProxies.create(['192.0.2.0/24', '2001:db8:1::/48']);
  t.equal(trusted.contains('192.0.2.77'), true);
  t.equal(trusted.contains('198.51.100.1'), false);
  t.equal(trusted.contains('2001:db8:1::5'), true);
  t.equal(trusted.contains('2001:db8:2::5'), false);
  t.equal(trusted.contains('unknown'), false);
  t.equal(TrustedProxies.create([]).contains('192.0.2.77'), false);
  t.throws(() => TrustedProxies.create(['nope']), /not a CIDR/);
});
