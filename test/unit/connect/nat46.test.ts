// The pure part of NAT46 sources. checkNat46Bind's real probes run in a private network namespace:
// test/integration/connect/nat46-check.test.ts.
import t from 'tap';
import {
  checkNat46Bind,
  nat46LocalAddress,
  nat46SourceAddress,
  parseNat46Prefix,
} from '../../../src/connect/nat46.js';

const PREFIX = '64:ff9b:1::/96';

t.test('the source address is the /96 with the client IPv4 in the low 32 bits', async (t) => {
  t.equal(nat46SourceAddress(PREFIX, '192.0.2.10'), '64:ff9b:1::c000:20a');
  t.equal(nat46SourceAddress(PREFIX, '0.0.0.0'), '64:ff9b:1::');
  t.equal(nat46SourceAddress(PREFIX, '255.255.255.255'), '64:ff9b:1::ffff:ffff');
  t.equal(nat46SourceAddress('2001:db8:46::/96', '198.51.100.7'), '2001:db8:46::c633:6407');
});

t.test('only /96 prefixes are NAT46 prefixes', async (t) => {
  t.ok(parseNat46Prefix(PREFIX).ok);
  for (const text of ['64:ff9b:1::/64', '64:ff9b:1::/32', '64:ff9b:1::', '64:ff9b:1::1/96', '10.0.0.0/8']) {
    const r = parseNat46Prefix(text);
    t.notOk(r.ok, text);
  }
  const r = parseNat46Prefix('64:ff9b:1::/64');
  t.match(r.ok ? '' : r.reason, /must be one of \/96/);
});

t.test('which local address a client is dialled from', async (t) => {
  const allowed = (a: string): boolean => a.startsWith('2001:db8:10:');
  t.equal(nat46LocalAddress(PREFIX, '192.0.2.10', allowed), '64:ff9b:1::c000:20a');
  t.equal(nat46LocalAddress(PREFIX, '::ffff:192.0.2.10', allowed), '64:ff9b:1::c000:20a', 'mapped IPv4');
  t.equal(
    nat46LocalAddress(PREFIX, '2001:db8:10::99', allowed),
    '2001:db8:10::99',
    'IPv6 inside the allowlist',
  );
  t.equal(nat46LocalAddress(PREFIX, '2001:db8:99::99', allowed), undefined, "IPv6 elsewhere: the edge's own");
  t.equal(nat46LocalAddress(PREFIX, 'unknown', allowed), undefined);
});

t.test('checkNat46Bind refuses a prefix that is not a /96 without probing', async (t) => {
  const r = await checkNat46Bind('64:ff9b:1::/64');
  t.same(r.ok, false);
  t.match(r.ok ? '' : r.message, /^sourceNat46Prefix "64:ff9b:1::\/64": prefix length must be one of \/96/);
});
