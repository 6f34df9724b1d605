import t from 'tap';
import { validateConfig } from '../../../src/config/load.js';

const problems = (input: unknown): string[] => {
  const r = validateConfig(input);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};
const listeners = [{ name: 'a', address: '0.0.0.0:8443', protocol: 'tls' }];

t.test('admin, drain and workers defaults', (t) => {
  const r = validateConfig({ listeners });
  if (!r.ok) throw new Error('fixture');
  t.same(r.config.admin, { address: '127.0.0.1:9646' });
  t.same(r.config.drain, { announceSeconds: 5, timeoutSeconds: 30 });
  t.equal(r.config.workers, 'auto');
  t.end();
});

t.test('admin.address must parse and never share a proxy port', (t) => {
  t.match(problems({ listeners, admin: { address: 'localhost:9646' } }), [
    /^admin\.address: "localhost:9646" is not/,
  ]);
  t.match(problems({ listeners, admin: { address: '127.0.0.1:8443' } }), [
    /^admin\.address: .*overlaps listeners\[0\]/,
  ]);
  t.same(problems({ listeners, admin: { address: '127.0.0.1:0' } }), []);
  t.same(
    problems({ listeners: [{ name: 'a', address: '127.0.0.2:9646', protocol: 'tls' }] }),
    [],
    'other host, same port',
  );
  t.end();
});

t.test('workers and drain ranges', (t) => {
  t.same(problems({ listeners, workers: 4 }), []);
  t.match(problems({ listeners, workers: 0 }), [/^workers: /]);
  t.match(problems({ listeners, workers: 'many' }), [/^workers: /]);
  t.match(problems({ listeners, drain: { announceSeconds: -1, timeoutSeconds: 0.5 } }), [
    /^drain\.announceSeconds: /,
  ]);
  t.match(problems({ listeners, drain: { annouceSeconds: 1 } }), [
    /^drain\.annouceSeconds: unknown key \(did you mean "announceSeconds"\?\)/,
  ]);
  t.end();
});
