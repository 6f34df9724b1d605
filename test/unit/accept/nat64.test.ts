import { SocketAddress } from 'node:net';
import t from 'tap';
import {
  embedIpv4,
  extractEmbeddedIpv4,
  NAT64_PREFIX_LENGTHS,
  parseNat64Prefix,
  WELL_KNOWN_PREFIX,
} from '../../../src/accept/nat64.js';

const canonical = (a: string): string => new SocketAddress({ address: a, family: 'ipv6' }).address;

/** RFC 6052 §2.4, Table 1 ("Text Representation of IPv4-Embedded IPv6 Addresses"), and Table 2. */
const RFC_EXAMPLES: readonly [prefix: string, ipv4: string, ipv6: string][] = [
  ['2001:db8::/32', '192.0.2.33', '2001:db8:c000:221::'],
  ['2001:db8:100::/40', '192.0.2.33', '2001:db8:1c0:2:21::'],
  ['2001:db8:122::/48', '192.0.2.33', '2001:db8:122:c000:2:2100::'],
  ['2001:db8:122:300::/56', '192.0.2.33', '2001:db8:122:3c0:0:221::'],
  ['2001:db8:122:344::/64', '192.0.2.33', '2001:db8:122:344:c0:2:2100:0'],
  ['2001:db8:122:344::/96', '192.0.2.33', '2001:db8:122:344::192.0.2.33'],
  ['64:ff9b::/96', '192.0.2.33', '64:ff9b::192.0.2.33'],
];

t.test('RFC 6052 §2.4 examples: extraction at every prefix length', async (t) => {
  for (const [prefix, ipv4, ipv6] of RFC_EXAMPLES) {
    t.equal(extractEmbeddedIpv4(ipv6, [prefix]), ipv4, `${ipv6} in ${prefix}`);
  }
  t.same(
    [...new Set(RFC_EXAMPLES.map(([p]) => Number(p.split('/')[1])))],
    [...NAT64_PREFIX_LENGTHS],
    'the examples cover every allowed length',
  );
});

t.test('RFC 6052 §2.4 examples: embedding gives the RFC address', async (t) => {
  for (const [prefix, ipv4, ipv6] of RFC_EXAMPLES) {
    t.equal(embedIpv4(prefix, ipv4), canonical(ipv6), `${ipv4} in ${prefix}`);
  }
});

t.test('the issue example: 64:ff9b::c000:20a is 192.0.2.10', async (t) => {
  t.equal(extractEmbeddedIpv4('64:ff9b::c000:20a', [WELL_KNOWN_PREFIX]), '192.0.2.10');
  t.equal(extractEmbeddedIpv4('64:FF9B:0:0:0:0:C000:020A', [WELL_KNOWN_PREFIX]), '192.0.2.10');
});

t.test('the u-octet (bits 64–71) is skipped, and ignored when set', async (t) => {
  // /40: three octets before the u-octet, one after it.
  t.equal(extractEmbeddedIpv4('2001:db8:1c0:2:ff21::', ['2001:db8:100::/40']), '192.0.2.33');
  // /56: one octet before, three after.
  t.equal(extractEmbeddedIpv4('2001:db8:122:3c0:ff00:221::', ['2001:db8:122:300::/56']), '192.0.2.33');
  // The suffix is ignored too.
  t.equal(extractEmbeddedIpv4('2001:db8:c000:221:0:0:0:1', ['2001:db8::/32']), '192.0.2.33');
});

t.test('round trip over many addresses at every length', async (t) => {
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (const length of NAT64_PREFIX_LENGTHS) {
    const prefix = length === 96 ? '2001:db8:aa:bb::/96' : `2001:db8::/${length}`;
    for (let i = 0; i < 50; i++) {
      const v4 = [next(), next(), next(), next()].join('.');
      const v6 = embedIpv4(prefix, v4);
      if (extractEmbeddedIpv4(v6, [prefix]) !== v4) t.fail(`${v4} via ${v6} at /${length}`);
    }
  }
  t.pass('50 addresses at each of 6 lengths');
});

t.test('addresses outside every prefix, and non-IPv6 input, give null', async (t) => {
  t.equal(extractEmbeddedIpv4('2001:db8:10::10', [WELL_KNOWN_PREFIX]), null);
  t.equal(
    extractEmbeddedIpv4('64:ff9b:1::c000:20a', [WELL_KNOWN_PREFIX]),
    null,
    'the local-use prefix is another /96',
  );
  t.equal(extractEmbeddedIpv4('192.0.2.10', [WELL_KNOWN_PREFIX]), null);
  t.equal(extractEmbeddedIpv4('garbage', [WELL_KNOWN_PREFIX]), null);
  t.equal(extractEmbeddedIpv4('64:ff9b::c000:20a', []), null);
  t.equal(extractEmbeddedIpv4('2001:db9:c000:221::', ['2001:db8::/32']), null);
});

t.test('the first matching prefix wins', async (t) => {
  const prefixes = ['2001:db8:122:344::/96', '2001:db8::/32'];
  t.equal(extractEmbeddedIpv4('2001:db8:122:344::c000:221', prefixes), '192.0.2.33');
  t.equal(extractEmbeddedIpv4('2001:db8:122:344::c000:221', [...prefixes].reverse()), '1.34.3.68');
});

t.test('prefix parsing', async (t) => {
  const ok = parseNat64Prefix('64:FF9B:0::/96');
  t.same(ok.ok && [ok.prefix.text, ok.prefix.length], ['64:ff9b::/96', 96]);
  const cases: [string, RegExp][] = [
    ['64:ff9b::', /no prefix length/],
    ['64:ff9b::/80', /must be one of \/32, \/40, \/48, \/56, \/64, \/96/],
    ['64:ff9b::/', /must be one of/],
    ['64:ff9b::/0x60', /must be one of/],
    ['192.0.2.0/24', /not an IPv6 prefix/],
    ['64:ff9b::1/96', /bits set past \/96/],
    ['2001:db8::1:0:0/64', /bits set past \/64/],
    ['2001:db8:0:0:ff00::/96', /u-octet/],
    ['fe80::%eth0/64', /not an IPv6 prefix/],
  ];
  for (const [text, pattern] of cases) {
    const r = parseNat64Prefix(text);
    t.match(r.ok ? 'accepted' : r.reason, pattern, text);
  }
  t.throws(() => extractEmbeddedIpv4('64:ff9b::1', ['64:ff9b::/80']), TypeError);
  t.throws(() => embedIpv4(WELL_KNOWN_PREFIX, '192.0.2.256'), /not an IPv4 address/);
});
