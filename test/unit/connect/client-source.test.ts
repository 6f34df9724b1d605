import t from 'tap';
import { effectiveClient } from '../../../src/accept/client-address.js';
import { clientSource } from '../../../src/connect/client-source.js';
import { parseProxyHeader, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY } from '../../../src/sniff/proxy-protocol.js';

const client = effectiveClient(
  { address: '::ffff:192.0.2.10', port: 54321 },
  { address: '::ffff:192.0.2.1', port: 443 },
);
const policy = { isAllowed: (a: string): boolean => a.startsWith('2001:db8:10:') };
const listener = { address: '[::]:443', proxyProtocol: 'none' as const, sourceNat46Prefix: undefined };

t.test('nothing configured: no header, the edge dials from its own address', async (t) => {
  t.same(clientSource({ listener, client, policy }), { proxyProtocol: 'none', header: null, dial: {} });
});

t.test('the listener default and the route override', async (t) => {
  const v1 = clientSource({ listener: { ...listener, proxyProtocol: 'v1' }, client, policy });
  t.equal(v1.header?.toString(), 'PROXY TCP4 192.0.2.10 192.0.2.1 54321 443\r\n');
  const v2 = clientSource({
    listener: { ...listener, proxyProtocol: 'v1' },
    route: { proxyProtocol: 'v2' },
    client,
    policy,
  });
  t.equal(v2.proxyProtocol, 'v2');
  t.equal(v2.header?.[12], 0x21);
  const off = clientSource({
    listener: { ...listener, proxyProtocol: 'v2' },
    route: { proxyProtocol: 'none' },
    client,
    policy,
  });
  t.same([off.proxyProtocol, off.header], ['none', null]);
});

t.test('v2 carries the SNI as AUTHORITY and a single offered ALPN', async (t) => {
  const r = clientSource({
    listener: { ...listener, proxyProtocol: 'v2' },
    client,
    policy,
    authority: 'web.example',
    alpn: 'h2',
  });
  const parsed = parseProxyHeader(r.header ?? Buffer.alloc(0));
  if (parsed.kind !== 'done') throw new Error(JSON.stringify(parsed));
  t.equal(parsed.value.tlvs.get(PP2_TYPE_AUTHORITY)?.toString(), 'web.example');
  t.equal(parsed.value.tlvs.get(PP2_TYPE_ALPN)?.toString(), 'h2');
  const bare = clientSource({
    listener: { ...listener, proxyProtocol: 'v2' },
    client,
    policy,
    authority: null,
  });
  t.equal(bare.header?.length, 28, 'no SNI, no ALPN: address block only');
});

t.test(
  'a NAT46 client on an IPv6 listen address gets the listener IPv4 as destination when bound to one',
  async (t) => {
    const nat64Client = effectiveClient(
      { address: '64:ff9b::c000:20a', port: 5 },
      { address: '2001:db8:46::5', port: 443 },
      { nat64Prefixes: [] },
    );
    t.equal(nat64Client.address, '64:ff9b::c000:20a', 'without prefixes it stays IPv6');
    const translated = { ...nat64Client, address: '192.0.2.10' };
    const any = clientSource({ listener: { ...listener, proxyProtocol: 'v1' }, client: translated, policy });
    t.equal(any.header?.toString(), 'PROXY TCP4 192.0.2.10 0.0.0.0 5 443\r\n');
    const bound = clientSource({
      listener: { ...listener, address: '198.51.100.5:443', proxyProtocol: 'v1' },
      client: translated,
      policy,
    });
    t.equal(bound.header?.toString(), 'PROXY TCP4 192.0.2.10 198.51.100.5 5 443\r\n');
  },
);

t.test('NAT46: listener prefix, route override, route opt-out, IPv6 clients', async (t) => {
  const nat = { ...listener, sourceNat46Prefix: '64:ff9b:1::/96' };
  const r = clientSource({ listener: nat, client, policy });
  t.equal(r.nat46Prefix, '64:ff9b:1::/96');
  t.equal(r.dial.localAddress, '64:ff9b:1::c000:20a');
  t.type(r.dial.createSocket, 'function');
  const routed = clientSource({ listener, route: { sourceNat46Prefix: '2001:db8:46::/96' }, client, policy });
  t.equal(routed.dial.localAddress, '2001:db8:46::c000:20a');
  const optOut = clientSource({ listener: nat, route: { sourceNat46Prefix: false }, client, policy });
  t.same([optOut.nat46Prefix, optOut.dial], [undefined, {}]);

  const inside = effectiveClient(
    { address: '2001:db8:10::99', port: 1 },
    { address: '2001:db8:10::1', port: 443 },
  );
  t.equal(clientSource({ listener: nat, client: inside, policy }).dial.localAddress, '2001:db8:10::99');
  const outside = effectiveClient(
    { address: '2001:db8:99::99', port: 1 },
    { address: '2001:db8:10::1', port: 443 },
  );
  t.same(clientSource({ listener: nat, client: outside, policy }).dial, {}, "the edge's own address");
});
