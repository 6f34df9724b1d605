import t from 'tap';
import { RestartBackoff } from '../../../src/cluster/backoff.js';

t.test('doubles per death inside the window, capped, and forgets old deaths', (t) => {
  let now = 0;
  const b = new RestartBackoff({ baseMs: 100, maxMs: 1000, windowMs: 60_000, now: () => now });
  t.same([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  now = 61_000;
  t.equal(b.next(), 100, 'a death after a quiet minute restarts at once again');
  now = 62_000;
  t.equal(b.next(), 200);
  t.end();
});
