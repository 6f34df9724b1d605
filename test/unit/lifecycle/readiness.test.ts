import t from 'tap';
import { Readiness } from '../../../src/lifecycle/readiness.js';

t.test('ready while every check passes and not draining', (t) => {
  const r = new Readiness();
  t.same(r.report(), { ready: true, draining: false, failing: [] });
  let synced = false;
  r.add('watch', () => (synced ? null : 'not synced'));
  r.add('broken', () => {
    throw new Error('boom');
  });
  t.same(r.report().failing, [
    { check: 'watch', reason: 'not synced' },
    { check: 'broken', reason: 'check failed: boom' },
  ]);
  synced = true;
  r.remove('broken');
  t.equal(r.report().ready, true);
  r.startDraining();
  r.startDraining();
  t.same(r.report(), {
    ready: false,
    draining: true,
    failing: [{ check: 'draining', reason: 'shutting down (SIGTERM)' }],
  });
  t.equal(r.draining, true);
  t.end();
});
