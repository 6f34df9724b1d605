import t from 'tap';
import type { CacheOptions } from '../../../src/resolve/cache.js';
import { TtlCache } from '../../../src/resolve/cache.js';

function fakeClock(start = 1_000_000): { now: () => number; advance: (seconds: number) => void } {
  let ms = start;
  return { now: () => ms, advance: (seconds) => (ms += seconds * 1000) };
}

const base = { minTtlSeconds: 5, maxTtlSeconds: 300, negativeTtlSeconds: 10, staleSeconds: 60 } as const;

function cache(extra: Partial<CacheOptions> = {}) {
  const clock = fakeClock();
  return { clock, cache: new TtlCache({ ...base, now: clock.now, ...extra }) };
}

t.test('TTL is the smallest answer TTL, clamped into [min, max]', (t) => {
  const { cache: c } = cache();
  t.equal(c.storePositive('a', ['2001:db8::1', '2001:db8::2'], [120, 30]).ttlSeconds, 30);
  t.equal(c.storePositive('b', ['2001:db8::1'], [1]).ttlSeconds, 5, 'raised to min');
  t.equal(c.storePositive('c', ['2001:db8::1'], [0]).ttlSeconds, 5, 'TTL 0 raised to min');
  t.equal(c.storePositive('d', ['2001:db8::1'], [86400]).ttlSeconds, 300, 'lowered to max');
  t.equal(c.storePositive('e', ['2001:db8::1'], []).ttlSeconds, 5);
  t.equal(c.clampTtl(Number.NaN), 5);
  t.equal(c.clampTtl(-7), 5);
  t.equal(c.clampTtl(42.9), 42);
  t.throws(() => new TtlCache({ ...base, minTtlSeconds: 10, maxTtlSeconds: 5 }));
  t.end();
});

t.test('positive entry: fresh until expiry, then expired inside the stale window, then gone', (t) => {
  const { cache: c, clock } = cache();
  c.storePositive('web', ['2001:db8::1'], [30]);
  t.equal(c.lookup('web').state, 'fresh');
  clock.advance(29.999);
  t.equal(c.lookup('web').state, 'fresh');
  clock.advance(0.001);
  t.equal(c.lookup('web').state, 'expired', 'at expiry: refresh needed');
  clock.advance(59.999);
  t.equal(c.lookup('web').state, 'expired', 'still inside staleSeconds');
  clock.advance(0.001);
  t.equal(c.lookup('web').state, 'miss', 'stale window over');
  t.equal(c.size, 0, 'dropped on lookup');
  t.end();
});

t.test('negative answers live negativeTtlSeconds', (t) => {
  const { cache: c, clock } = cache();
  c.storeNegative('gone', 'nxdomain');
  c.storeNegative('v4only', 'nodata');
  const hit = c.lookup('gone');
  t.equal(hit.state, 'negative');
  t.equal(hit.state === 'negative' && hit.entry.reason, 'nxdomain');
  clock.advance(9.9);
  t.equal(c.lookup('v4only').state, 'negative');
  clock.advance(0.1);
  t.equal(c.lookup('gone').state, 'miss');
  t.equal(c.lookup('v4only').state, 'miss');
  t.end();
});

t.test('stale is served only after a failed refresh, and not re-asked for failureRecheckSeconds', (t) => {
  const { cache: c, clock } = cache({ failureRecheckSeconds: 20 });
  c.storePositive('web', ['2001:db8::1'], [30]);
  t.equal(c.refreshFailed('web')?.addresses[0], '2001:db8::1', 'fresh entry returned as is');
  t.equal(c.lookup('web').state, 'fresh');
  clock.advance(31);
  t.equal(c.lookup('web').state, 'expired', 'not stale before any failure');
  const stale = c.refreshFailed('web');
  t.same(stale?.addresses, ['2001:db8::1']);
  t.equal(c.lookup('web').state, 'stale', 'served without a new query');
  clock.advance(20);
  t.equal(c.lookup('web').state, 'expired', 'recheck period over: ask again');
  t.ok(c.refreshFailed('web'));
  clock.advance(10);
  t.equal(c.lookup('web').state, 'stale');
  clock.advance(60);
  t.equal(c.refreshFailed('web'), undefined, 'past the stale window nothing is served');
  t.equal(c.lookup('web').state, 'miss');
  t.equal(c.refreshFailed('never-seen'), undefined);
  t.end();
});

t.test('recheck never outlives the stale window', (t) => {
  const { cache: c, clock } = cache({ staleSeconds: 5, failureRecheckSeconds: 30 });
  c.storePositive('web', ['2001:db8::1'], [10]);
  clock.advance(12);
  t.equal(c.refreshFailed('web')?.recheckAt, c.now() + 3000);
  clock.advance(3);
  t.equal(c.lookup('web').state, 'miss');
  t.end();
});

t.test('an authoritative NXDOMAIN replaces a stale entry', (t) => {
  const { cache: c, clock } = cache();
  c.storePositive('web', ['2001:db8::1'], [30]);
  clock.advance(40);
  t.ok(c.refreshFailed('web'));
  c.storeNegative('web', 'nxdomain');
  t.equal(c.lookup('web').state, 'negative');
  t.equal(c.refreshFailed('web'), undefined, 'no stale fallback from a negative entry');
  t.end();
});

t.test('staleSeconds 0 disables serve-stale', (t) => {
  const { cache: c, clock } = cache({ staleSeconds: 0 });
  c.storePositive('web', ['2001:db8::1'], [30]);
  clock.advance(30);
  t.equal(c.lookup('web').state, 'miss');
  t.equal(c.refreshFailed('web'), undefined);
  t.end();
});

t.test('bounded: the least recently used name is evicted', (t) => {
  const { cache: c } = cache({ maxEntries: 3 });
  c.storePositive('a', ['2001:db8::a'], [60]);
  c.storePositive('b', ['2001:db8::b'], [60]);
  c.storeNegative('c', 'nxdomain');
  t.equal(c.lookup('a').state, 'fresh', 'a used: now most recent');
  c.storeNegative('d', 'nxdomain');
  t.equal(c.size, 3);
  t.equal(c.lookup('b').state, 'miss', 'b was least recently used');
  t.same(
    [...c.entries()].map(([name]) => name),
    ['c', 'a', 'd'],
  );
  c.storePositive('a', ['2001:db8::aa'], [60]);
  t.equal(c.size, 3, 'replacing an entry does not evict');
  t.end();
});

t.test('a spray of random names stays within maxEntries', (t) => {
  const { cache: c } = cache({ maxEntries: 100 });
  for (let i = 0; i < 5000; i++) c.storeNegative(`r${i}.example`, 'nxdomain');
  t.equal(c.size, 100);
  t.equal(c.lookup('r4999.example').state, 'negative');
  t.equal(c.lookup('r0.example').state, 'miss');
  c.clear();
  t.equal(c.size, 0);
  t.end();
});

t.test('default maxEntries is 10,000', (t) => {
  const { cache: c } = cache();
  for (let i = 0; i < 10_050; i++) c.storeNegative(`r${i}`, 'nodata');
  t.equal(c.size, 10_000);
  c.delete('r10049');
  t.equal(c.size, 9_999);
  t.end();
});

t.test('stored addresses are frozen copies', (t) => {
  const { cache: c } = cache();
  const input = ['2001:db8::1'];
  const entry = c.storePositive('web', input, [30]);
  input.push('2001:db8::2');
  t.same(entry.addresses, ['2001:db8::1']);
  t.ok(Object.isFrozen(entry.addresses));
  t.end();
});
