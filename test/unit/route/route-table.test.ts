import t from 'tap';
import { RouteTable, routeProblems } from '../../../src/route/route-table.js';

const table = RouteTable.build([
  { host: '*.svc.c2.k8s.example', target: '{host}' },
  { host: '*.apps.example.com', target: '{sub}.default.svc.c2.k8s.example' },
  { host: '*.example.com', target: 'fallback.default.svc.c2.k8s.example', port: 8080 },
  { host: 'static.example.com', target: '[2001:db8:10::5]:8443', port: 8443 },
  { host: 'lit.example.com', target: '[2001:db8:10::6]:9443' },
]);

t.test('exact beats wildcard', async (t) => {
  const r = table.lookup('static.example.com');
  t.ok(r.ok);
  if (r.ok) {
    t.same(r.match.target, { kind: 'address', address: '2001:db8:10::5' });
    t.equal(r.match.port, 8443);
    t.equal(r.match.route.pattern, 'static.example.com');
  }
});

t.test('a literal target carries its own port', async (t) => {
  const r = table.lookup('lit.example.com');
  t.ok(r.ok && r.match.port === 9443);
});

t.test('{host} keeps the requested name', async (t) => {
  const r = table.lookup('web.default.svc.c2.k8s.example');
  t.ok(r.ok);
  if (r.ok) t.same(r.match.target, { kind: 'name', name: 'web.default.svc.c2.k8s.example' });
});

t.test('the longest wildcard suffix wins and {sub} is the matched labels', async (t) => {
  const r = table.lookup('shop.apps.example.com');
  t.ok(r.ok);
  if (r.ok) {
    t.equal(r.match.route.pattern, '*.apps.example.com');
    t.same(r.match.target, { kind: 'name', name: 'shop.default.svc.c2.k8s.example' });
    t.equal(r.match.port, undefined);
  }
  const deep = table.lookup('a.b.apps.example.com');
  t.ok(
    deep.ok &&
      deep.match.target.kind === 'name' &&
      deep.match.target.name === 'a.b.default.svc.c2.k8s.example',
  );
  const shorter = table.lookup('other.example.com');
  t.ok(shorter.ok && shorter.match.route.pattern === '*.example.com' && shorter.match.port === 8080);
});

t.test('"*.x" needs at least one label before .x', async (t) => {
  t.same(table.lookup('apps.example.com').ok, true, 'falls to *.example.com');
  t.same(table.lookup('example.com'), { ok: false, reason: 'no-route' });
  t.same(table.lookup('unrelated.test'), { ok: false, reason: 'no-route' });
});

t.test('catch-all "*" and {host}', async (t) => {
  const all = RouteTable.build([{ host: '*', target: '{host}' }]);
  const r = all.lookup('anything.example');
  t.ok(r.ok && r.match.target.kind === 'name' && r.match.target.name === 'anything.example');
});

t.test('an expansion that is not a valid name is no usable route', async (t) => {
  const long = RouteTable.build([
    {
      host: '*.x.example',
      target: `{sub}.${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'e'.repeat(50)}`,
    },
  ]);
  t.same(long.lookup(`${'d'.repeat(60)}.x.example`), { ok: false, reason: 'bad-target' });
});

t.test('routeProblems', async (t) => {
  t.same(routeProblems({ host: '*.ok.example', target: '{sub}.svc.example' }), []);
  t.match(routeProblems({ host: 'a.*.example', target: '{host}' }), [{ path: 'host' }]);
  t.match(routeProblems({ host: 'exact.example', target: '{sub}.svc' }), [
    { path: 'target', message: /wildcard/ },
  ]);
  t.match(routeProblems({ host: '*.e', target: '{nope}.svc' }), [{ path: 'target', message: /placeholder/ }]);
  t.match(routeProblems({ host: '*.e', target: '[192.0.2.1]:80' }), [{ path: 'target', message: /IPv6/ }]);
  t.match(routeProblems({ host: '*.e', target: '192.0.2.1' }), [{ path: 'target' }]);
  t.same(routeProblems({ host: '*', target: '[2001:db8::1]:443' }), []);
});
