import t from 'tap';
import { DEFAULT_CONFIG_YAML } from '../../../src/config/default.js';
import { parseConfigText, validateConfig } from '../../../src/config/load.js';

const LISTENER = { name: 'web', address: '127.0.0.1:0', protocol: 'http' };

t.test('http defaults', async (t) => {
  const r = validateConfig({ listeners: [LISTENER], routes: [{ host: '*', target: '{host}' }] });
  if (!r.ok) return t.fail(JSON.stringify(r.problems));
  t.same(r.config.http, {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 300_000,
    keepAliveTimeoutMs: 5_000,
    maxHeaderSize: 16_384,
    maxRequestsPerConnection: 1_000,
    trustedProxies: [],
    upstream: {
      connections: 64,
      keepAliveTimeoutMs: 4_000,
      headersTimeoutMs: 60_000,
      bodyTimeoutMs: 300_000,
    },
  });
  t.equal(r.config.listeners[0]?.protocol, 'http');
  t.equal(r.config.routes[0]?.forwardedHeaders, undefined, 'absent means true');
});

t.test('the embedded default serves http on 127.0.0.1:8080', async (t) => {
  const r = parseConfigText(DEFAULT_CONFIG_YAML);
  if (!r.ok) return t.fail(JSON.stringify(r.problems));
  t.match(r.config.listeners, [
    { protocol: 'tls', address: '127.0.0.1:8443' },
    { name: 'http', protocol: 'http', address: '127.0.0.1:8080', backendPort: 80 },
  ]);
});

t.test('http problems are reported with their paths', async (t) => {
  const r = validateConfig({
    listeners: [LISTENER],
    http: {
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 10_000,
      maxHeaderSize: 100,
      trustedProxies: ['10.0.0.0/8', 'proxy.example', '2001:db8::/200'],
      upstream: { connections: 0, keepAlive: 1 },
    },
    routes: [{ host: 'a.example', target: 'b.example', forwardedHeaders: 'yes' }],
  });
  t.equal(r.ok, false);
  if (r.ok) return;
  const paths = r.problems.map((p) => p.path);
  for (const path of [
    'http.maxHeaderSize',
    'http.upstream.connections',
    'http.upstream.keepAlive',
    'routes[0].forwardedHeaders',
  ]) {
    t.ok(paths.includes(path), `${path} reported`);
  }
  const cross = validateConfig({
    listeners: [LISTENER],
    http: {
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 10_000,
      trustedProxies: ['proxy.example', '192.0.2.0/24'],
    },
  });
  t.equal(cross.ok, false);
  if (cross.ok) return;
  t.match(cross.problems, [
    { path: 'http.headersTimeoutMs', message: /requestTimeoutMs/ },
    { path: 'http.trustedProxies[0]', message: /not a CIDR/ },
  ]);
  t.equal(cross.problems.length, 2);
  t.ok(
    validateConfig({ listeners: [LISTENER], http: { headersTimeoutMs: 20_000, requestTimeoutMs: 0 } }).ok,
    'requestTimeoutMs 0 disables the check',
  );
});
