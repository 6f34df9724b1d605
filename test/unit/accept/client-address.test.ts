import t from 'tap';
import {
  clientAddressing,
  clientBindings,
  effectiveClient,
  isTrustedProxy,
} from '../../../src/accept/client-address.js';
import { parseNat64Prefix, type Nat64Prefix } from '../../../src/accept/nat64.js';
import { parseProxyHeader, type ProxyHeader } from '../../../src/sniff/proxy-protocol.js';

function prefix(text: string): Nat64Prefix {
  const parsed = parseNat64Prefix(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.prefix;
}

function header(text: string | Buffer): ProxyHeader {
  const r = parseProxyHeader(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  if (r.kind !== 'done') throw new Error(JSON.stringify(r));
  return r.value;
}

const nat64Prefixes = [prefix('64:ff9b::/96')];

t.test('the peer, IPv4-mapped form unmapped', async (t) => {
  t.same(
    effectiveClient({ address: '::ffff:192.0.2.10', port: 5000 }, { address: '::ffff:192.0.2.1', port: 443 }),
    {
      address: '192.0.2.10',
      port: 5000,
      via: 'peer',
      local: { address: '192.0.2.1', port: 443 },
    },
  );
  const v6 = effectiveClient(
    { address: '2001:db8::7', port: 1 },
    { address: '2001:db8::1', port: 443 },
    { nat64Prefixes },
  );
  t.same([v6.address, v6.via, v6.peer], ['2001:db8::7', 'peer', undefined]);
  t.equal(effectiveClient({}, {}).address, 'unknown');
});

t.test('a peer inside a NAT64 prefix is the IPv4 client it embeds', async (t) => {
  const c = effectiveClient(
    { address: '64:ff9b::c000:20a', port: 5000 },
    { address: '2001:db8:46::5', port: 443 },
    { nat64Prefixes },
  );
  t.same(c, {
    address: '192.0.2.10',
    port: 5000,
    via: 'nat64',
    peer: { address: '64:ff9b::c000:20a', port: 5000 },
    local: { address: '2001:db8:46::5', port: 443 },
  });
  const local = effectiveClient(
    { address: '64:ff9b::c000:20a' },
    { address: '64:ff9b::c633:6405', port: 443 },
    { nat64Prefixes },
  );
  t.same(local.local, { address: '198.51.100.5', port: 443 }, 'a translated service address too');
  t.equal(effectiveClient({ address: '64:ff9b::c000:20a' }, {}).via, 'peer', 'no prefixes configured');
});

t.test('an accepted PROXY header wins over the peer', async (t) => {
  const h = header('PROXY TCP4 198.51.100.7 192.0.2.1 40000 443\r\n');
  const c = effectiveClient(
    { address: '::ffff:10.0.0.5', port: 1234 },
    { address: '::ffff:10.0.0.1', port: 443 },
    { proxyHeader: h },
  );
  t.same(c, {
    address: '198.51.100.7',
    port: 40000,
    via: 'proxy-protocol',
    peer: { address: '10.0.0.5', port: 1234 },
    local: { address: '192.0.2.1', port: 443 },
    proxyHeader: h,
  });
  const mapped = effectiveClient(
    { address: '10.0.0.5' },
    {},
    { proxyHeader: header('PROXY TCP6 ::ffff:198.51.100.7 ::ffff:192.0.2.1 1 443\r\n') },
  );
  t.same(
    [mapped.address, mapped.local.address],
    ['198.51.100.7', '192.0.2.1'],
    'a TCP6 header with mapped IPv4 is unmapped',
  );
  const nat = effectiveClient(
    { address: '10.0.0.5' },
    {},
    { nat64Prefixes, proxyHeader: header('PROXY TCP6 64:ff9b::c000:20a 2001:db8::1 1 443\r\n') },
  );
  t.equal(nat.address, '192.0.2.10', 'a PROXY source inside a NAT64 prefix is translated as well');
});

t.test('LOCAL and UNKNOWN headers leave the peer as the client', async (t) => {
  for (const h of [
    header('PROXY UNKNOWN\r\n'),
    header(Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex')),
  ]) {
    const c = effectiveClient(
      { address: '10.0.0.5', port: 9 },
      { address: '10.0.0.1', port: 443 },
      { proxyHeader: h },
    );
    t.same([c.address, c.port, c.via, c.peer, c.proxyHeader], ['10.0.0.5', 9, 'peer', undefined, h]);
  }
});

t.test('trusted proxies: IPv4 and IPv6 CIDRs, mapped peers', async (t) => {
  const config = {
    clientNat64Prefixes: ['64:ff9b::/96'],
    acceptProxyProtocol: true,
    trustedProxies: ['10.0.0.0/8', '2001:db8:1b::/48', '192.0.2.77'],
    sniffTimeoutMs: 1000,
  };
  const addressing = clientAddressing(config);
  t.equal(clientAddressing(config), addressing, 'compiled once per config object');
  t.equal(addressing.nat64[0]?.text, '64:ff9b::/96');
  t.ok(isTrustedProxy('10.1.2.3', addressing));
  t.ok(isTrustedProxy('::ffff:10.1.2.3', addressing));
  t.ok(isTrustedProxy('2001:db8:1b::9', addressing));
  t.ok(isTrustedProxy('192.0.2.77', addressing));
  t.notOk(isTrustedProxy('192.0.2.78', addressing));
  t.notOk(isTrustedProxy('2001:db8:1c::9', addressing));
  t.notOk(isTrustedProxy('unknown', addressing));
  t.throws(() => clientAddressing({ ...config, trustedProxies: ['nope'] }), /not a CIDR/);
  t.throws(() => clientAddressing({ ...config, clientNat64Prefixes: ['64:ff9b::/80'] }), /prefix length/);
});

t.test('log bindings', async (t) => {
  t.same(clientBindings(effectiveClient({ address: '::ffff:192.0.2.10', port: 5 }, {})), {
    client: '192.0.2.10',
    clientPort: 5,
  });
  t.same(clientBindings(effectiveClient({ address: '64:ff9b::c000:20a', port: 5 }, {}, { nat64Prefixes })), {
    client: '192.0.2.10',
    clientPort: 5,
    peer: '[64:ff9b::c000:20a]:5',
  });
});
