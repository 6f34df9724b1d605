// The resolver through node's real c-ares path against a real DNS server (dnsmasq on 127.0.0.1), and
// against servers that time out or refuse. Lives with the connect integration tests: resolution is the
// first half of reaching a backend. Skips with a reason when dnsmasq is not installed (.ci/run installs
// dnsmasq-base).
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import t from 'tap';
import { ProxyError } from '../../../src/errors.js';
import { AddressPolicy } from '../../../src/resolve/address-policy.js';
import type { LookupSource, ResolverOptions } from '../../../src/resolve/resolver.js';
import { AaaaResolver } from '../../../src/resolve/resolver.js';
import type { Dnsmasq, DnsmasqOptions } from '../../helpers/dnsmasq.js';
import { startDnsmasq } from '../../helpers/dnsmasq.js';

const ZONE = 'c2.example';
const policy = AddressPolicy.create({ allow: ['2001:db8:10::/48'] });
const base: Omit<ResolverOptions, 'servers'> = {
  timeoutMs: 1000,
  attempts: 2,
  minTtlSeconds: 5,
  maxTtlSeconds: 300,
  negativeTtlSeconds: 10,
  staleSeconds: 300,
};

const dnsmasqMissing = spawnSync('dnsmasq', ['--version'], { encoding: 'utf8' }).status !== 0;

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

function sorted(list: readonly string[]): string[] {
  return [...list].sort();
}

function fakeClock(): { now: () => number; advance: (seconds: number) => void } {
  let ms = Date.now();
  return { now: () => ms, advance: (s) => (ms += s * 1000) };
}

/** Query lines dnsmasq logged for `name`, read up to a sentinel query so none is still in the pipe. */
async function queriesFor(dns: Dnsmasq, resolver: AaaaResolver, name: string): Promise<number> {
  const sentinel = `sentinel-${Math.random().toString(36).slice(2)}.${ZONE}`;
  await rejection(resolver.resolve(sentinel, policy));
  await dns.process.waitForLine((l) => l.includes(`query[AAAA] ${sentinel} `), 5000, { stream: 'stderr' });
  return dns.process.stderr.filter((l) => l.includes(`query[AAAA] ${name} `)).length;
}

const records: DnsmasqOptions['records'] = [
  { name: `web.${ZONE}`, aaaa: ['2001:db8:10::5', '2001:db8:10::6'], ttl: 120 },
  { name: `short.${ZONE}`, aaaa: ['2001:db8:10::7'], ttl: 1 },
  { name: `long.${ZONE}`, aaaa: ['2001:db8:10::8'], ttl: 86400 },
  { name: `v4only.${ZONE}`, a: ['192.0.2.5'] },
  { name: `dual.${ZONE}`, a: ['192.0.2.6'], aaaa: ['2001:db8:10::9'] },
  { name: `outside.${ZONE}`, aaaa: ['2001:db9::1'] },
  { name: `loop.${ZONE}`, aaaa: ['::1'] },
  { name: `half.${ZONE}`, aaaa: ['::1', '2001:db8:10::a'] },
];

t.test(
  'real DNS (dnsmasq) through c-ares',
  { skip: dnsmasqMissing && 'dnsmasq is not installed' },
  async (t) => {
    const dns = await startDnsmasq(null, {
      listen: '127.0.0.1',
      zone: ZONE,
      records,
      cnames: [
        { alias: `alias.${ZONE}`, target: `web.${ZONE}`, ttl: 30 },
        { alias: `alias-v4.${ZONE}`, target: `v4only.${ZONE}`, ttl: 30 },
      ],
      dynamicRecords: [{ name: `dyn.${ZONE}`, aaaa: ['2001:db8:10::d'] }],
      dynamicTtl: 1,
      extraConfig: ['log-queries'],
      t,
    });
    const lookups: Array<LookupSource | 'error'> = [];
    const clock = fakeClock();
    const resolver = new AaaaResolver(
      { ...base, servers: [dns.server] },
      { now: clock.now, onLookup: (r) => lookups.push(r) },
    );
    t.teardown(() => resolver.close());

    t.test('AAAA answers with their TTL; the second lookup is a cache hit', async (t) => {
      const first = await resolver.resolve(`WEB.${ZONE}.`, policy);
      t.equal(first.name, `web.${ZONE}`);
      t.same(sorted(first.addresses), ['2001:db8:10::5', '2001:db8:10::6']);
      t.equal(first.ttlSeconds, 120);
      t.equal(first.source, 'miss');
      clock.advance(20);
      const second = await resolver.resolve(`web.${ZONE}`, policy);
      t.equal(second.source, 'hit');
      t.equal(second.ttlSeconds, 100);
      t.same(second.addresses, first.addresses, 'same order as cached');
      t.equal(await queriesFor(dns, resolver, `web.${ZONE}`), 1);
      const dual = await resolver.resolve(`dual.${ZONE}`, policy);
      t.same(dual.addresses, ['2001:db8:10::9'], 'only the AAAA of a dual-stack name');
    });

    t.test('record TTLs are clamped into [min, max]', async (t) => {
      t.equal((await resolver.resolve(`short.${ZONE}`, policy)).ttlSeconds, 5);
      t.equal((await resolver.resolve(`long.${ZONE}`, policy)).ttlSeconds, 300);
    });

    t.test('a CNAME is followed; its TTL counts', async (t) => {
      const alias = await resolver.resolve(`alias.${ZONE}`, policy);
      t.same(sorted(alias.addresses), ['2001:db8:10::5', '2001:db8:10::6']);
      t.equal(alias.ttlSeconds, 30);
    });

    t.test('NXDOMAIN, no AAAA, CNAME to an A-only name, refused query', async (t) => {
      const nx = await rejection(resolver.resolve(`missing.${ZONE}`, policy));
      t.equal(nx.code, 'EDGE_RESOLVE_NXDOMAIN');
      t.match(nx.message, `missing.${ZONE}`);
      t.match(nx.message, dns.server);
      t.match(nx.cause, { code: 'ENOTFOUND' });
      const v4 = await rejection(resolver.resolve(`v4only.${ZONE}`, policy));
      t.equal(v4.code, 'EDGE_RESOLVE_NODATA');
      t.match(v4.cause, { code: 'ENODATA' });
      const aliasV4 = await rejection(resolver.resolve(`alias-v4.${ZONE}`, policy));
      t.equal(aliasV4.code, 'EDGE_RESOLVE_NODATA', 'c-ares returns [] here; still no data');
      const refused = await rejection(resolver.resolve('not-our-zone.example', policy));
      t.equal(refused.code, 'EDGE_RESOLVE_FAILED');
      t.match(refused.cause, { code: 'EREFUSED' });
      lookups.length = 0;
      const again = await rejection(resolver.resolve(`missing.${ZONE}`, policy));
      t.equal(again.code, 'EDGE_RESOLVE_NXDOMAIN');
      t.same(lookups, ['negative'], 'from the negative cache');
      t.equal(await queriesFor(dns, resolver, `missing.${ZONE}`), 1);
    });

    t.test('answers outside the allowlist are dropped or refused', async (t) => {
      const outside = await rejection(resolver.resolve(`outside.${ZONE}`, policy));
      t.equal(outside.code, 'EDGE_BLOCKED_ADDRESS');
      t.match(outside.message, '2001:db9::1 (outside backends.allow)');
      const loop = await rejection(resolver.resolve(`loop.${ZONE}`, policy));
      t.equal(loop.code, 'EDGE_BLOCKED_ADDRESS');
      t.match(loop.message, '::1 (loopback');
      t.same((await resolver.resolve(`half.${ZONE}`, policy)).addresses, ['2001:db8:10::a']);
    });

    t.test('single flight: 10 concurrent lookups, one query on the wire', async (t) => {
      clock.advance(10); // short.* (TTL 1, clamped to 5 s, looked up above) has expired
      lookups.length = 0;
      const again = await Promise.all(
        Array.from({ length: 10 }, () => resolver.resolve(`short.${ZONE}`, policy)),
      );
      t.ok(again.every((r) => r.source === 'miss'));
      t.equal(await queriesFor(dns, resolver, `short.${ZONE}`), 2, 'one query before, one now');
    });

    t.test('an authoritative NXDOMAIN replaces an expired answer at once', async (t) => {
      t.same((await resolver.resolve(`dyn.${ZONE}`, policy)).addresses, ['2001:db8:10::d']);
      await dns.setDynamicRecords([]);
      clock.advance(6);
      const gone = await rejection(resolver.resolve(`dyn.${ZONE}`, policy));
      t.equal(gone.code, 'EDGE_RESOLVE_NXDOMAIN', 'not served stale');
      const snap = resolver.snapshot().find((e) => e.name === `dyn.${ZONE}`);
      t.match(snap, { negative: true, addresses: [] });
    });
  },
);

t.test(
  'stale answers while the server is down',
  { skip: dnsmasqMissing && 'dnsmasq is not installed' },
  async (t) => {
    const dns = await startDnsmasq(null, { listen: '127.0.0.1', zone: ZONE, records, t });
    const clock = fakeClock();
    const resolver = new AaaaResolver(
      { ...base, timeoutMs: 300, attempts: 1, servers: [dns.server] },
      { now: clock.now },
    );
    t.teardown(() => resolver.close());
    await resolver.resolve(`web.${ZONE}`, policy);
    await dns.stop();
    clock.advance(121);
    const stale = await resolver.resolve(`web.${ZONE}`, policy);
    t.equal(stale.source, 'stale');
    t.equal(stale.ttlSeconds, 0);
    t.same(sorted(stale.addresses), ['2001:db8:10::5', '2001:db8:10::6']);
    clock.advance(300);
    const err = await rejection(resolver.resolve(`web.${ZONE}`, policy));
    t.ok(
      ['EDGE_RESOLVE_FAILED', 'EDGE_RESOLVE_TIMEOUT'].includes(err.code),
      `past staleSeconds: ${err.code}`,
    );
    t.match(err.message, dns.server);
  },
);

t.test('a server that never answers: EDGE_RESOLVE_TIMEOUT', async (t) => {
  const silent = createSocket('udp4');
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => silent.close());
  const server = `127.0.0.1:${silent.address().port}`;
  const resolver = new AaaaResolver({ ...base, timeoutMs: 100, attempts: 1, servers: [server] });
  t.teardown(() => resolver.close());
  const err = await rejection(resolver.resolve(`web.${ZONE}`, policy));
  t.equal(err.code, 'EDGE_RESOLVE_TIMEOUT');
  t.match(err.message, `web.${ZONE} via ${server} timed out`);
  t.match(err.cause, { code: 'ETIMEOUT' });
});

t.test('a closed port: EDGE_RESOLVE_FAILED', async (t) => {
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const server = `127.0.0.1:${probe.address().port}`;
  probe.close();
  const resolver = new AaaaResolver({ ...base, timeoutMs: 300, attempts: 1, servers: [server] });
  t.teardown(() => resolver.close());
  const err = await rejection(resolver.resolve(`web.${ZONE}`, policy));
  t.equal(err.code, 'EDGE_RESOLVE_FAILED');
  t.match(err.message, server);
  t.match(err.cause, { code: 'ECONNREFUSED' });
});

t.test('close() cancels a query in flight', async (t) => {
  const silent = createSocket('udp4');
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => silent.close());
  const resolver = new AaaaResolver({
    ...base,
    timeoutMs: 60_000,
    attempts: 1,
    servers: [`127.0.0.1:${silent.address().port}`],
  });
  const pending = resolver.resolve(`web.${ZONE}`, policy);
  await once(silent, 'message'); // the query is on the wire
  resolver.close();
  resolver.close();
  const err = await rejection(pending);
  t.equal(err.code, 'EDGE_RESOLVE_FAILED');
  t.match(err.message, /resolver closed/);
  t.match(err.cause, { code: 'ECANCELLED' });
});
