import t from 'tap';
import { validateConfig, type ConfigProblem } from '../../../src/config/load.js';
import { nat46Prefixes } from '../../../src/connect/nat46.js';

const base = {
  listeners: [{ name: 'tls', address: '0.0.0.0:443', protocol: 'tls' }],
  backends: { allow: ['2001:db8:10::/48'], deny: [] },
};

function problems(input: unknown): readonly ConfigProblem[] {
  const r = validateConfig(input);
  return r.ok ? [] : r.problems;
}

t.test('defaults: nothing carried, nothing accepted', async (t) => {
  const r = validateConfig(base);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  t.match(r.config.listeners[0], {
    proxyProtocol: 'none',
    clientNat64Prefixes: [],
    acceptProxyProtocol: false,
    trustedProxies: [],
  });
  t.equal(r.config.listeners[0]?.sourceNat46Prefix, undefined);
});

t.test('a full, valid set-up', async (t) => {
  const r = validateConfig({
    ...base,
    listeners: [
      {
        ...base.listeners[0],
        proxyProtocol: 'v2',
        sourceNat46Prefix: '64:ff9b:1::/96',
        clientNat64Prefixes: ['64:ff9b::/96', '2001:db8:64::/48'],
        acceptProxyProtocol: true,
        trustedProxies: ['10.0.0.0/8', '2001:db8:1b::/48'],
      },
    ],
    routes: [
      { host: 'a.example', target: '{host}', proxyProtocol: 'v1', sourceNat46Prefix: false },
      { host: 'b.example', target: '{host}', sourceNat46Prefix: '2001:db8:46::/96' },
    ],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  t.same(nat46Prefixes(r.config), ['64:ff9b:1::/96', '2001:db8:46::/96']);
});

t.test('every problem, each with its path', async (t) => {
  const found = problems({
    ...base,
    listeners: [
      base.listeners[0],
      {
        name: 'b',
        address: '0.0.0.0:444',
        protocol: 'tls',
        sourceNat46Prefix: '64:ff9b:1::/64',
        clientNat64Prefixes: ['64:ff9b::/80', '64:ff9b::1/96'],
        acceptProxyProtocol: true,
      },
      { name: 'c', address: '0.0.0.0:445', protocol: 'tls', trustedProxies: ['10.0.0.0/8', 'x'] },
    ],
    routes: [{ host: 'a.example', target: '{host}', sourceNat46Prefix: 'nope/96' }],
  });
  const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
  t.match(byPath, {
    'listeners[1].sourceNat46Prefix': /must be one of \/96/,
    'listeners[1].clientNat64Prefixes[0]': /prefix length must be one of \/32, \/40/,
    'listeners[1].clientNat64Prefixes[1]': /bits set past \/96/,
    'listeners[1].trustedProxies': /acceptProxyProtocol needs at least one trusted proxy/,
    'listeners[2].trustedProxies': /no effect without acceptProxyProtocol/,
    'listeners[2].trustedProxies[1]': /"x" is not a CIDR/,
    'routes[0].sourceNat46Prefix': /not an IPv6 prefix/,
  });
});

t.test('schema errors: unknown proxyProtocol values', async (t) => {
  const found = problems({ ...base, listeners: [{ ...base.listeners[0], proxyProtocol: 'v3' }] });
  t.match(found, [{ path: 'listeners[0].proxyProtocol' }]);
  const route = problems({
    ...base,
    routes: [{ host: 'a.example', target: '{host}', sourceNat46Prefix: true }],
  });
  t.match(route, [{ path: 'routes[0].sourceNat46Prefix' }]);
});

t.test('http listeners carry the client address to the backend', async (t) => {
  const found = problems({
    ...base,
    listeners: [
      {
        name: 'web',
        address: '0.0.0.0:80',
        protocol: 'http',
        proxyProtocol: 'v1',
        sourceNat46Prefix: '64:ff9b:1::/96',
        acceptProxyProtocol: true,
        trustedProxies: ['10.0.0.0/8'],
      },
    ],
  });
  t.same(
    found.map((p) => p.path),
    [],
    'accepting and sending PROXY headers, NAT64 prefixes and NAT46 sources all work on http listeners',
  );
});

t.test('a NAT46 prefix is never a backend', async (t) => {
  const found = problems({
    ...base,
    listeners: [{ ...base.listeners[0], sourceNat46Prefix: '2001:db8:10:46::/96' }],
    backends: { allow: ['2001:db8:10::/48', '2001:db8:10:46::/100'], deny: [] },
    routes: [{ host: 'a.example', target: '[2001:db8:10:46::c000:20a]:443' }],
  });
  t.same(
    found.map((p) => p.path),
    ['backends.allow[1]', 'routes[0].target'],
    'a broad allow entry around the prefix is fine; one inside it, or a literal target in it, is not',
  );
});
