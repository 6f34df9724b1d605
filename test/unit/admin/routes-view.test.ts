import t from 'tap';
import { attributeResolutions } from '../../../src/admin/routes-view.js';
import type { CacheSnapshotEntry } from '../../../src/resolve/resolver.js';
import { RouteTable } from '../../../src/route/route-table.js';

const entry = (name: string, extra: Partial<CacheSnapshotEntry> = {}): CacheSnapshotEntry => ({
  name,
  addresses: ['2001:db8:10::1'],
  ttlLeftSeconds: 30,
  stale: false,
  negative: false,
  ...extra,
});

t.test('cached names go under the route that produces them', (t) => {
  const table = RouteTable.build([
    { host: '*.svc.k8s.example', target: '{host}' },
    { host: '*.apps.example.com', target: '{sub}.default.svc.k8s.example' },
    { host: 'static.example.com', target: '[2001:db8:10::5]:8443' },
    { host: 'fixed.example.com', target: 'backend.internal.example' },
    { host: '*', target: '{host}' },
  ]);
  const { routes, other } = attributeResolutions(table, [
    entry('web.svc.k8s.example'),
    entry('shop.default.svc.k8s.example'),
    entry('backend.internal.example', { stale: true }),
    entry('anything.example.org', { negative: true, addresses: [] }),
  ]);
  const by = Object.fromEntries(routes.map((r) => [r.pattern, r.resolutions.map((x) => x.name)]));
  // shop.default.svc.k8s.example is produced by *.apps.example.com (shop.apps.example.com) and would be
  // routed by *.svc.k8s.example itself when asked directly: the first route in table order that
  // really produces it is the wildcard {host} route.
  t.same(by['*.svc.k8s.example'], ['shop.default.svc.k8s.example', 'web.svc.k8s.example']);
  t.same(by['fixed.example.com'], ['backend.internal.example']);
  t.same(by['*'], ['anything.example.org']);
  t.same(by['static.example.com'], []);
  t.same(other, []);
  t.match(
    routes.find((r) => r.pattern === 'static.example.com'),
    { literal: '2001:db8:10::5', port: 8443, kind: 'exact' },
  );
  t.match(
    routes.find((r) => r.pattern === '*'),
    { kind: 'catch-all', port: null },
  );
  t.end();
});

t.test('templates are matched by shape and checked against the table', (t) => {
  const table = RouteTable.build([{ host: '*.apps.example.com', target: '{sub}.default.svc.k8s.example' }]);
  const { routes, other } = attributeResolutions(table, [
    entry('shop.default.svc.k8s.example'),
    entry('a.b.default.svc.k8s.example'),
    entry('unrelated.example'),
  ]);
  t.same(
    routes[0]?.resolutions.map((r) => r.name),
    ['a.b.default.svc.k8s.example', 'shop.default.svc.k8s.example'],
  );
  t.same(
    other.map((r) => r.name),
    ['unrelated.example'],
    'left over, e.g. after a reload removed its route',
  );
  t.end();
});
