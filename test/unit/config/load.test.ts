import t from 'tap';
import { DEFAULT_CONFIG_YAML } from '../../../src/config/default.js';
import { formatPath, formatProblems, parseConfigText } from '../../../src/config/load.js';

const ISSUE_EXAMPLE = `
listeners:
  - name: https
    address: "0.0.0.0:443"
    protocol: tls
    backendPort: 443
    defaultHost: web.example
    sniffTimeoutMs: 10000
    maxConnections: 10000
timeouts: { connectMs: 5000, idleMs: 300000 }
resolver:
  servers: ["[2001:db8::53]:53"]
  timeoutMs: 2000
  attempts: 2
  minTtlSeconds: 5
  maxTtlSeconds: 300
  negativeTtlSeconds: 10
  staleSeconds: 300
backends:
  allow: ["2001:db8:10::/48"]
  deny: []
routes:
  - host: "*.svc.c2.k8s.example"
    target: "{host}"
  - host: "*.apps.example.com"
    target: "{sub}.default.svc.c2.k8s.example"
  - host: "static.example.com"
    target: "[2001:db8:10::5]:8443"
    port: 8443
`;

t.test('the example from the issue is valid and gets defaults', async (t) => {
  const r = parseConfigText(ISSUE_EXAMPLE);
  if (!r.ok) return t.fail(formatProblems(r.problems));
  t.equal(r.config.listeners[0]?.maxHelloBytes, 65536);
  t.equal(r.config.timeouts.attemptDelayMs, 250);
  t.equal(r.config.log.level, 'info');
  t.ok(Object.isFrozen(r.config) && Object.isFrozen(r.config.routes[0]), 'frozen');
});

t.test('the embedded default is valid', async (t) => {
  const r = parseConfigText(DEFAULT_CONFIG_YAML);
  t.ok(r.ok);
  if (r.ok) t.same(r.config.backends.deny.includes('2001:db8::/32'), true);
});

t.test('JSON is accepted too', async (t) => {
  const r = parseConfigText(
    JSON.stringify({ listeners: [{ name: 'a', address: '127.0.0.1:0', protocol: 'tls' }] }),
  );
  t.ok(r.ok);
});

t.test('every problem is reported with its path', async (t) => {
  const r = parseConfigText(`
listeners:
  - name: a
    address: "localhost:443"
    protocol: tls
  - name: a
    address: "0.0.0.0:99999"
    protocol: udp
    sniffTimeoutMS: 5
backends:
  allow: ["2001:db8::/200", "10.0.0.0/8"]
routes:
  - host: "x.example"
    target: "[2001:db9::1]:443"
  - host: "x.example"
    target: "{sub}.svc"
resolver:
  minTtlSeconds: 50
  maxTtlSeconds: 10
`);
  t.notOk(r.ok);
  if (r.ok) return;
  const text = formatProblems(r.problems);
  t.match(text, /listeners\[1\]\.protocol:/);
  t.match(text, /listeners\[1\]\.sniffTimeoutMS: unknown key \(did you mean "sniffTimeoutMs"\?\)/);
  t.comment(text);
});

t.test('cross-field problems are all listed at once', async (t) => {
  const r = parseConfigText(`
listeners:
  - name: a
    address: "localhost:443"
    protocol: tls
  - name: a
    address: "0.0.0.0:443"
    protocol: tls
    defaultHost: "bad..name"
backends:
  allow: ["2001:db8::/200", "10.0.0.0/8", "2001:db8:10::/48"]
  deny: []
routes:
  - host: "x.example"
    target: "[2001:db9::1]:443"
  - host: "X.example"
    target: "{sub}.svc"
resolver:
  minTtlSeconds: 50
  maxTtlSeconds: 10
  servers: ["dns.example"]
`);
  t.notOk(r.ok);
  if (r.ok) return;
  const paths = r.problems.map((p) => p.path);
  for (const p of [
    'listeners[0].address',
    'listeners[1].name',
    'listeners[1].defaultHost',
    'backends.allow[0]',
    'backends.allow[1]',
    'routes[1].host',
    'routes[1].target',
    'resolver.minTtlSeconds',
    'resolver.servers[0]',
  ]) {
    t.ok(paths.includes(p), `reports ${p}`);
  }
  t.comment(formatProblems(r.problems));
});

t.test('a literal target outside the allowlist is refused', async (t) => {
  const r = parseConfigText(`
listeners: [{ name: a, address: "127.0.0.1:0", protocol: tls }]
backends: { allow: ["2001:db8:10::/48"], deny: [] }
routes: [{ host: "x.example", target: "[2001:db8:99::1]:443" }]
`);
  t.notOk(r.ok);
  if (!r.ok) t.match(formatProblems(r.problems), /routes\[0\]\.target: 2001:db8:99::1 is refused/);
});

t.test('YAML syntax errors and empty files are reported, not thrown', async (t) => {
  const bad = parseConfigText('listeners: [\n  - {');
  t.notOk(bad.ok);
  const empty = parseConfigText('');
  t.notOk(empty.ok);
  if (!empty.ok) t.match(formatProblems(empty.problems), /listeners/);
  const dup = parseConfigText('listeners: []\nlisteners: []\n');
  t.notOk(dup.ok, 'duplicate keys refused');
});

t.test('formatPath', async (t) => {
  t.equal(formatPath(['routes', 2, 'target']), 'routes[2].target');
  t.equal(formatPath([]), '');
});
