import t from 'tap';
import type { ListenerConfig } from '../../../src/config/schema.js';
import { changedSettings, planListeners } from '../../../src/lifecycle/listener-plan.js';

const listener = (name: string, address: string, extra: Partial<ListenerConfig> = {}): ListenerConfig =>
  ({
    name,
    address,
    protocol: 'tls',
    sniffTimeoutMs: 10_000,
    maxHelloBytes: 65_536,
    maxConnections: 10_000,
    ...extra,
  }) as ListenerConfig;
const running = (config: ListenerConfig): { config: ListenerConfig; id: string } => ({
  config,
  id: config.name,
});

t.test('same address and protocol: kept (settings and even the name may change)', (t) => {
  const a = running(listener('a', '127.0.0.1:8443'));
  const plan = planListeners([a], [listener('renamed', '127.0.0.1:8443', { maxConnections: 5 })]);
  t.same(
    plan.steps.map((s) => s.kind),
    ['keep'],
  );
  t.equal(plan.steps[0]?.kind === 'keep' && plan.steps[0].listener, a);
  t.same(plan.remove, []);
  t.same(plan.closeFirst, []);
  t.end();
});

t.test('new address: added; gone: removed; order follows the new config', (t) => {
  const a = running(listener('a', '127.0.0.1:1000'));
  const b = running(listener('b', '127.0.0.1:2000'));
  const plan = planListeners([a, b], [listener('c', '127.0.0.1:3000'), listener('a', '127.0.0.1:1000')]);
  t.same(
    plan.steps.map((s) => `${s.kind}:${s.config.name}`),
    ['add:c', 'keep:a'],
  );
  t.same(plan.remove, [b]);
  t.same(plan.closeFirst, []);
  t.end();
});

t.test('same name, other address: a new socket, the old one removed', (t) => {
  const a = running(listener('a', '127.0.0.1:1000'));
  const plan = planListeners([a], [listener('a', '127.0.0.1:1001')]);
  t.same(
    plan.steps.map((s) => s.kind),
    ['add'],
  );
  t.same(plan.remove, [a]);
  t.end();
});

t.test('protocol change on the same address: the old one must close before the new binds', (t) => {
  const a = running(listener('a', '0.0.0.0:80'));
  const plan = planListeners([a], [listener('a', '0.0.0.0:80', { protocol: 'http' })]);
  t.same(
    plan.steps.map((s) => s.kind),
    ['add'],
  );
  t.same(plan.closeFirst, [a]);
  t.end();
});

t.test('port 0 listeners keep the port they got, matched by name first', (t) => {
  const x = running(listener('x', '127.0.0.1:0'));
  const y = running(listener('y', '127.0.0.1:0'));
  const plan = planListeners([x, y], [listener('y', '127.0.0.1:0'), listener('z', '127.0.0.1:0')]);
  t.same(
    plan.steps.map((s) =>
      s.kind === 'keep' ? `keep:${s.listener.id}->${s.config.name}` : `add:${s.config.name}`,
    ),
    ['keep:y->y', 'keep:x->z'],
  );
  t.same(plan.remove, []);
  t.same(plan.closeFirst, [], 'port 0 never collides');
  t.end();
});

t.test('changedSettings names the keys that differ', (t) => {
  t.same(
    changedSettings(
      listener('a', '127.0.0.1:1'),
      listener('a', '127.0.0.1:1', { maxConnections: 1, defaultHost: 'x.example' }),
    ),
    ['defaultHost', 'maxConnections'],
  );
  t.same(changedSettings(listener('a', '127.0.0.1:1'), listener('a', '127.0.0.1:1')), []);
  t.end();
});
