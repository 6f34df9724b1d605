import t from 'tap';
import { ProxyError } from '../../../src/errors.js';
import { AddressPolicy } from '../../../src/resolve/address-policy.js';
import type { AaaaAnswer, LookupSource, ResolverOptions } from '../../../src/resolve/resolver.js';
import { AaaaResolver } from '../../../src/resolve/resolver.js';

const opts: ResolverOptions = {
  servers: ['[2001:db8::53]:53'],
  timeoutMs: 1000,
  attempts: 1,
  minTtlSeconds: 5,
  maxTtlSeconds: 300,
  negativeTtlSeconds: 10,
  staleSeconds: 60,
};
const policy = AddressPolicy.create({ allow: ['2001:db8::/32'] });

function errno(code: string): Error & { code: string } {
  return Object.assign(new Error(`queryAaaa ${code}`), { code });
}

/** A scripted DNS: each name answers from a queue of results; the last one repeats. */
function harness(
  script: Record<string, Array<readonly AaaaAnswer[] | Error>>,
  extra: Partial<ResolverOptions> = {},
) {
  let ms = 1_000_000;
  const queries: string[] = [];
  const lookups: Array<LookupSource | 'error'> = [];
  const resolver = new AaaaResolver(
    { ...opts, ...extra },
    {
      now: () => ms,
      onLookup: (r) => lookups.push(r),
      query: (name) => {
        queries.push(name);
        const queue = script[name] ?? [errno('ENOTFOUND')];
        const next = queue.length > 1 ? queue.shift() : queue[0];
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next ?? []);
      },
    },
  );
  return { resolver, queries, lookups, advance: (s: number) => (ms += s * 1000) };
}

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('miss, then hit from the cache; TTL left counts down', async (t) => {
  const h = harness({ 'web.example': [[{ address: '2001:db8::1', ttl: 30 }]] });
  const first = await h.resolver.resolve('Web.Example.', policy);
  t.same(first, { name: 'web.example', addresses: ['2001:db8::1'], ttlSeconds: 30, source: 'miss' });
  h.advance(10);
  const second = await h.resolver.resolve('web.example', policy);
  t.same(second, { name: 'web.example', addresses: ['2001:db8::1'], ttlSeconds: 20, source: 'hit' });
  t.same(h.queries, ['web.example']);
  t.same(h.lookups, ['miss', 'hit']);
  t.end();
});

t.test('single flight: 10 concurrent resolves share one query', async (t) => {
  let release: (answers: readonly AaaaAnswer[]) => void = () => undefined;
  let calls = 0;
  const resolver = new AaaaResolver(opts, {
    query: () => {
      calls++;
      return new Promise((resolve) => (release = resolve));
    },
  });
  const all = Promise.all(Array.from({ length: 10 }, () => resolver.resolve('web.example', policy)));
  release([{ address: '2001:db8::1', ttl: 60 }]);
  const results = await all;
  t.equal(calls, 1);
  t.ok(results.every((r) => r.addresses[0] === '2001:db8::1'));
  t.end();
});

t.test('single flight shares failures too, and the next resolve asks again', async (t) => {
  const h = harness({ 'web.example': [errno('ESERVFAIL'), [{ address: '2001:db8::1', ttl: 60 }]] });
  const errors = await Promise.all(
    Array.from({ length: 10 }, () => rejection(h.resolver.resolve('web.example', policy))),
  );
  t.ok(errors.every((e) => e.code === 'EDGE_RESOLVE_FAILED'));
  t.equal(h.queries.length, 1);
  t.equal((await h.resolver.resolve('web.example', policy)).source, 'miss');
  t.equal(h.queries.length, 2);
  t.end();
});

t.test('error mapping keeps the cause and names the name and the servers', async (t) => {
  const cases = [
    ['ENOTFOUND', 'EDGE_RESOLVE_NXDOMAIN'],
    ['ENODATA', 'EDGE_RESOLVE_NODATA'],
    ['ETIMEOUT', 'EDGE_RESOLVE_TIMEOUT'],
    ['ESERVFAIL', 'EDGE_RESOLVE_FAILED'],
    ['ECONNREFUSED', 'EDGE_RESOLVE_FAILED'],
    ['EREFUSED', 'EDGE_RESOLVE_FAILED'],
    ['EBADRESP', 'EDGE_RESOLVE_FAILED'],
  ] as const;
  for (const [code, expected] of cases) {
    const cause = errno(code);
    const h = harness({ 'x.example': [cause] });
    const err = await rejection(h.resolver.resolve('x.example', policy));
    t.equal(err.code, expected, code);
    t.equal(err.cause, cause, `${code}: cause kept`);
    t.match(err.message, /x\.example/);
    t.match(err.message, /\[2001:db8::53\]:53/);
    t.same(h.lookups, ['error']);
  }
  const h = harness({ 'x.example': [new Error('no code at all')] });
  t.equal((await rejection(h.resolver.resolve('x.example', policy))).code, 'EDGE_RESOLVE_FAILED');
  t.end();
});

t.test('an empty answer (CNAME to a name without AAAA) is NODATA', async (t) => {
  const h = harness({ 'alias.example': [[]] });
  const err = await rejection(h.resolver.resolve('alias.example', policy));
  t.equal(err.code, 'EDGE_RESOLVE_NODATA');
  t.end();
});

t.test('negative answers are cached negativeTtlSeconds', async (t) => {
  const h = harness({ 'gone.example': [errno('ENOTFOUND'), [{ address: '2001:db8::9', ttl: 60 }]] });
  t.equal((await rejection(h.resolver.resolve('gone.example', policy))).code, 'EDGE_RESOLVE_NXDOMAIN');
  h.advance(9);
  t.equal((await rejection(h.resolver.resolve('gone.example', policy))).code, 'EDGE_RESOLVE_NXDOMAIN');
  t.equal(h.queries.length, 1, 'second answer from the negative cache');
  h.advance(1);
  t.equal((await h.resolver.resolve('gone.example', policy)).addresses[0], '2001:db8::9');
  t.same(h.lookups, ['error', 'negative', 'miss']);
  t.end();
});

t.test('stale is served on timeout or server failure, never after NXDOMAIN', async (t) => {
  const h = harness({
    'web.example': [
      [{ address: '2001:db8::1', ttl: 30 }],
      errno('ETIMEOUT'),
      errno('ESERVFAIL'),
      errno('ENOTFOUND'),
    ],
  });
  await h.resolver.resolve('web.example', policy);
  h.advance(31);
  const stale = await h.resolver.resolve('web.example', policy);
  t.same(stale, { name: 'web.example', addresses: ['2001:db8::1'], ttlSeconds: 0, source: 'stale' });
  t.equal(h.queries.length, 2);
  t.equal((await h.resolver.resolve('web.example', policy)).source, 'stale', 'recheck period: no new query');
  t.equal(h.queries.length, 2);
  h.advance(30);
  t.equal((await h.resolver.resolve('web.example', policy)).source, 'stale', 'server failure: stale again');
  t.equal(h.queries.length, 3);
  h.advance(30);
  t.equal((await rejection(h.resolver.resolve('web.example', policy))).code, 'EDGE_RESOLVE_NXDOMAIN');
  t.equal(
    (await rejection(h.resolver.resolve('web.example', policy))).code,
    'EDGE_RESOLVE_NXDOMAIN',
    'cached',
  );
  const [entry] = h.resolver.snapshot();
  t.same(entry, { name: 'web.example', addresses: [], ttlLeftSeconds: 10, stale: false, negative: true });
  t.end();
});

t.test('no stale entry: a timeout is a timeout', async (t) => {
  const h = harness(
    { 'web.example': [[{ address: '2001:db8::1', ttl: 30 }], errno('ETIMEOUT')] },
    { staleSeconds: 0 },
  );
  await h.resolver.resolve('web.example', policy);
  h.advance(30);
  t.equal((await rejection(h.resolver.resolve('web.example', policy))).code, 'EDGE_RESOLVE_TIMEOUT');
  t.end();
});

t.test('refused answers are dropped; all refused → EDGE_BLOCKED_ADDRESS naming them', async (t) => {
  const h = harness({
    'mixed.example': [
      [
        { address: '::ffff:192.0.2.1', ttl: 30 },
        { address: '2001:db8::7', ttl: 30 },
        { address: '2001:db9::1', ttl: 30 },
      ],
    ],
    'evil.example': [
      [
        { address: '::1', ttl: 30 },
        { address: 'fe80::1', ttl: 30 },
      ],
    ],
  });
  t.same((await h.resolver.resolve('mixed.example', policy)).addresses, ['2001:db8::7']);
  const err = await rejection(h.resolver.resolve('evil.example', policy));
  t.equal(err.code, 'EDGE_BLOCKED_ADDRESS');
  t.match(err.message, /evil\.example/);
  t.match(err.message, /::1 \(loopback/);
  t.match(err.message, /fe80::1 \(link-local/);
  t.same(h.lookups, ['miss', 'miss'], 'the lookup itself worked');
  // The cache keeps the raw answer: a wider policy on the next call sees it.
  const wide = AddressPolicy.create({ allow: ['::1/128'] });
  t.same((await h.resolver.resolve('evil.example', wide)).addresses, ['::1']);
  t.end();
});

t.test('hostile answers: duplicates removed, non-IPv6 ignored, truncated to maxAddresses', async (t) => {
  const many = Array.from({ length: 40 }, (_, i) => ({
    address: `2001:db8::${(i + 1).toString(16)}`,
    ttl: 100,
  }));
  const h = harness(
    {
      'dup.example': [
        [
          { address: '2001:db8::1', ttl: 50 },
          { address: '2001:DB8:0::1', ttl: 20 },
          { address: '192.0.2.1', ttl: 1 },
          { address: 'not-an-address', ttl: 1 },
          { address: 'fe80::1%eth0', ttl: 1 },
          { address: 42 as unknown as string, ttl: 1 },
          { address: '2001:db8::2', ttl: 40 },
        ],
      ],
      'many.example': [many],
      'junk.example': [[{ address: '192.0.2.1', ttl: 30 }]],
    },
    { maxAddresses: 8 },
  );
  const dup = await h.resolver.resolve('dup.example', policy);
  t.same(dup.addresses, ['2001:db8::1', '2001:db8::2']);
  t.equal(dup.ttlSeconds, 20, 'TTL: minimum over the IPv6 answers, duplicates included');
  const manyResult = await h.resolver.resolve('many.example', policy);
  t.equal(manyResult.addresses.length, 8);
  t.equal(manyResult.addresses[7], '2001:db8::8');
  t.equal((await rejection(h.resolver.resolve('junk.example', policy))).code, 'EDGE_RESOLVE_NODATA');
  t.end();
});

t.test('default maxAddresses is 16', async (t) => {
  const many = Array.from({ length: 20 }, (_, i) => ({ address: `2001:db8::${i + 1}`, ttl: 100 }));
  const h = harness({ 'many.example': [many] });
  t.equal((await h.resolver.resolve('many.example', policy)).addresses.length, 16);
  t.end();
});

t.test('snapshot lists fresh, stale and negative entries', async (t) => {
  const h = harness({
    'a.example': [[{ address: '2001:db8::a', ttl: 30 }]],
    'b.example': [[{ address: '2001:db8::b', ttl: 100 }]],
  });
  await h.resolver.resolve('a.example', policy);
  await h.resolver.resolve('b.example', policy);
  await rejection(h.resolver.resolve('c.example', policy));
  t.same(h.resolver.snapshot()[2], {
    name: 'c.example',
    addresses: [],
    ttlLeftSeconds: 10,
    stale: false,
    negative: true,
  });
  h.advance(40);
  t.same(h.resolver.snapshot(), [
    { name: 'a.example', addresses: ['2001:db8::a'], ttlLeftSeconds: 0, stale: true, negative: false },
    { name: 'b.example', addresses: ['2001:db8::b'], ttlLeftSeconds: 60, stale: false, negative: false },
  ]);
  h.advance(130);
  t.same(h.resolver.snapshot(), [], 'expired negative and dead stale entries are not listed');
  t.end();
});

t.test('close() is idempotent; resolves after close reject', async (t) => {
  const h = harness({ 'a.example': [[{ address: '2001:db8::a', ttl: 30 }]] });
  h.resolver.close();
  h.resolver.close();
  const err = await rejection(h.resolver.resolve('a.example', policy));
  t.equal(err.code, 'EDGE_RESOLVE_FAILED');
  t.match(err.message, /closed/);
  t.same(h.queries, []);
  t.end();
});

t.test('constructor validates its options', (t) => {
  t.throws(() => new AaaaResolver({ ...opts, servers: ['not a server!'] }), /resolver\.servers/);
  t.throws(() => new AaaaResolver({ ...opts, timeoutMs: 0 }));
  t.throws(() => new AaaaResolver({ ...opts, attempts: 0 }));
  const r = new AaaaResolver({ ...opts, servers: ['2001:db8::53', '127.0.0.1:5353', '[2001:db8::54]:5353'] });
  r.close();
  t.end();
});
