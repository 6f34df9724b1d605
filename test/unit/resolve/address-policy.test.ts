import t, { type Test } from 'tap';
import {
  AddressPolicy,
  canonicalAddress,
  cidrContains,
  parseCidr,
} from '../../../src/resolve/address-policy.js';

type Row = readonly [address: string, allowed: boolean, reason?: string];

function table(t: Test, policy: AddressPolicy, rows: readonly Row[]): void {
  for (const [address, allowed, reason] of rows) {
    const verdict = policy.check(address);
    t.equal(verdict.allowed, allowed, `${address} ${allowed ? 'allowed' : 'refused'}`);
    t.equal(policy.isAllowed(address), allowed);
    if (!allowed && reason !== undefined && !verdict.allowed)
      t.equal(verdict.reason, reason, `${address}: reason`);
  }
}

t.test('allow ::/0 still refuses every always-refused and opt-in range', (t) => {
  const policy = AddressPolicy.create({ allow: ['::/0'] });
  table(t, policy, [
    ['2001:db8::1', true],
    ['fd00:10::5', true], // ULA: Kubernetes clusters use it for pods and services
    ['2606:4700::1111', true],
    ['::', false, 'unspecified address'],
    ['0:0:0:0:0:0:0:0', false, 'unspecified address'],
    ['::1', false, 'loopback address not named in backends.allow'],
    ['0:0:0:0:0:0:0:1', false, 'loopback address not named in backends.allow'],
    ['fe80::1', false, 'link-local address not named in backends.allow'],
    ['fe80::1%eth0', false, 'link-local address not named in backends.allow'],
    ['FEBF:FFFF::1', false, 'link-local address not named in backends.allow'],
    ['fec0::1', true], // site-local (deprecated) is outside fe80::/10
    ['::ffff:192.0.2.1', false, 'IPv4-mapped address'],
    ['::FFFF:c000:201', false, 'IPv4-mapped address'],
    ['0:0:0:0:0:ffff:c000:0201', false, 'IPv4-mapped address'],
    ['::192.0.2.1', false, 'IPv4-compatible address (deprecated)'],
    ['::2', false, 'IPv4-compatible address (deprecated)'],
    ['::1:0:0:1', true], // outside ::/96
    ['ff02::1', false, 'multicast address'],
    ['FF05::1:3', false, 'multicast address'],
    ['100::1', false, 'discard-only address not named in backends.allow'],
    ['100::1:0:0:0:1', true], // 100:0:0:1::/64 is outside 100::/64
    ['192.0.2.1', false, 'IPv4 address'],
    ['127.0.0.1', false, 'IPv4 address'],
    ['example.com', false, 'not an IPv6 address'],
    ['', false, 'not an IPv6 address'],
    ['2001:db8::1::2', false, 'not an IPv6 address'],
    ['[2001:db8::1]', false, 'not an IPv6 address'],
  ]);
  t.end();
});

t.test('loopback and link-local only through an allow entry inside them', (t) => {
  table(t, AddressPolicy.create({ allow: ['::1/128'] }), [
    ['::1', true],
    ['0::0:1', true],
    ['2001:db8::1', false, 'outside backends.allow'],
    ['fe80::1', false, 'link-local address not named in backends.allow'],
  ]);
  table(t, AddressPolicy.create({ allow: ['fe80::/64', '2000::/3'] }), [
    ['fe80::1', true],
    ['FE80::1%lo', true],
    ['fe80:0:0:1::1', false, 'link-local address not named in backends.allow'], // inside fe80::/10, not the /64
    ['::1', false, 'loopback address not named in backends.allow'],
    ['2001:db8::1', true],
  ]);
  // Entries that merely overlap (contain) the range do not count.
  table(t, AddressPolicy.create({ allow: ['::/1', 'fe80::/9', '::/96', '::/127'] }), [
    ['::1', false, 'loopback address not named in backends.allow'],
    ['fe80::1', false, 'link-local address not named in backends.allow'],
  ]);
  table(t, AddressPolicy.create({ allow: ['100::/64'] }), [['100::dead', true]]);
  t.end();
});

t.test('deny beats allow; reserved prefixes beat everything', (t) => {
  const policy = AddressPolicy.create({
    allow: ['2001:db8::/32', '::1/128'],
    deny: ['2001:db8:bad::/48', '::1/128'],
    reservedPrefixes: ['64:ff9b:1::/96'],
  });
  table(t, policy, [
    ['2001:db8:1::1', true],
    ['2001:db8:bad::1', false, 'inside backends.deny'],
    ['2001:DB8:BAD:FFFF::', false, 'inside backends.deny'],
    ['::1', false, 'inside backends.deny'],
    ['2001:db9::1', false, 'outside backends.allow'],
  ]);
  const wide = AddressPolicy.create({
    allow: ['::/0', '64:ff9b:1::/96'],
    reservedPrefixes: ['64:ff9b:1::/96'],
  });
  table(t, wide, [
    ['64:ff9b:1::c000:20a', false, 'reserved prefix 64:ff9b:1::/96'],
    ['64:ff9b:1::192.0.2.10', false, 'reserved prefix 64:ff9b:1::/96'],
    ['64:ff9b::c000:20a', true],
  ]);
  t.end();
});

t.test('empty allowlist refuses everything', (t) => {
  table(t, AddressPolicy.create({ allow: [] }), [['2001:db8::1', false, 'outside backends.allow']]);
  t.end();
});

t.test('create() names the bad entry', (t) => {
  t.throws(() => AddressPolicy.create({ allow: ['2001:db8::/32', 'nope'] }), /allow\[1\]: "nope"/);
  t.throws(() => AddressPolicy.create({ allow: ['10.0.0.0/8'] }), /allow\[0\]: "10\.0\.0\.0\/8" is IPv4/);
  t.throws(() => AddressPolicy.create({ allow: [], deny: ['2001:db8::/129'] }), /deny\[0\]/);
  t.throws(
    () => AddressPolicy.create({ allow: [], reservedPrefixes: ['64:ff9b::/x'] }),
    /reservedPrefixes\[0\]/,
  );
  t.end();
});

t.test('describe() gives the normalised prefixes', (t) => {
  const policy = AddressPolicy.create({ allow: ['2001:DB8:0::1/32', '::1'], deny: ['2001:db8:0:0:1::/80'] });
  t.same(policy.describe(), { allow: ['2001:db8::/32', '::1/128'], deny: ['2001:db8:0:0:1::/80'] });
  t.end();
});

t.test('parseCidr', (t) => {
  t.same(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 6 });
  t.same(parseCidr('2001:db8::1/32'), { address: '2001:db8::', prefix: 32, family: 6 }, 'host bits cleared');
  t.same(parseCidr('::/0'), { address: '::', prefix: 0, family: 6 });
  t.same(parseCidr('::1'), { address: '::1', prefix: 128, family: 6 }, 'bare address is a host prefix');
  t.same(parseCidr('1:2:3:4:5:6:7:9/127'), { address: '1:2:3:4:5:6:7:8', prefix: 127, family: 6 });
  t.same(parseCidr('::ffff:192.0.2.77/120'), { address: '::ffff:192.0.2.0', prefix: 120, family: 6 });
  t.same(parseCidr('192.0.2.77/24'), { address: '192.0.2.0', prefix: 24, family: 4 });
  t.same(parseCidr('10.0.0.1'), { address: '10.0.0.1', prefix: 32, family: 4 });
  for (const bad of [
    '',
    '/64',
    '2001:db8::/',
    '2001:db8::/129',
    '10.0.0.0/33',
    '2001:db8::/-1',
    '2001:db8::/6 4',
    'fe80::/10%eth0',
    'fe80::1%eth0/64',
    'example.com/8',
    '2001:db8::/0x20',
    '2001:db8::/1234',
  ]) {
    t.equal(parseCidr(bad), null, JSON.stringify(bad));
  }
  t.end();
});

t.test('cidrContains', (t) => {
  t.ok(cidrContains('::/0', '::1/128'));
  t.ok(cidrContains('fe80::/10', 'fe80::/64'));
  t.ok(cidrContains('fe80::/10', 'fe80::/10'));
  t.ok(cidrContains('2001:db8::/32', '2001:db8:ffff:ffff::/64'));
  t.notOk(cidrContains('fe80::/64', 'fe80::/10'), 'wider is not inside');
  t.notOk(cidrContains('2001:db8::/32', '2001:db9::/48'));
  t.notOk(cidrContains('10.0.0.0/8', '10.1.0.0/16'), 'IPv4 is not handled');
  t.notOk(cidrContains('::/0', 'junk'));
  t.end();
});

t.test('canonicalAddress', (t) => {
  t.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  t.equal(canonicalAddress('FE80::0:1%eth0'), 'fe80::1%eth0');
  t.equal(canonicalAddress('192.0.2.1'), '192.0.2.1');
  t.equal(canonicalAddress('nope'), null);
  t.end();
});
