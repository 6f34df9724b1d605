// Run by nat46-check.test.ts inside a private network namespace (`unshare -n`, lo up, nothing else).
// Not a *.test.ts file: on the host it would change routes and sysctls.
import { execFileSync } from 'node:child_process';
import { Socket } from 'node:net';
import t from 'tap';
import { checkNat46Bind, createNat46Socket } from '../../../src/connect/nat46.js';
import { loadNative, nativeLoadError } from '../../../src/pipe/native.js';

if (process.env.EDGE46_NAT46_NETNS !== '1') {
  t.plan(0, 'only inside the namespace nat46-check.test.ts creates');
  process.exit(0);
}

const PREFIX = '64:ff9b:1::/96';
const plain = (): Socket => new Socket({ allowHalfOpen: true });
const sysctl = (value: 0 | 1): void => {
  execFileSync('sysctl', ['-q', '-w', `net.ipv6.ip_nonlocal_bind=${value}`]);
};
const hasAddon = loadNative() !== null;

t.test('without the local route the message names the route to add', async (t) => {
  sysctl(1); // bind succeeds either way; only the route is missing
  const r = await checkNat46Bind(PREFIX, { createSocket: plain, method: 'nonlocal-bind', timeoutMs: 300 });
  t.same(r.ok, false);
  t.match(r.ok ? '' : r.message, /ip -6 route add local 64:ff9b:1::\/96 dev lo/);
  t.match(r.ok ? '' : r.message, /from 64:ff9b:1::1 to \[::1\]/);
  sysctl(0);
});

t.test('with the route', async (t) => {
  execFileSync('ip', ['-6', 'route', 'add', 'local', PREFIX, 'dev', 'lo']);

  t.test('a plain socket without the sysctl: the message names the addon and the sysctl', async (t) => {
    sysctl(0);
    const r = await checkNat46Bind(PREFIX, { createSocket: plain, method: 'nonlocal-bind' });
    t.same(r.ok, false);
    const message = r.ok ? '' : r.message;
    t.match(message, /cannot bind 64:ff9b:1::1 \(EADDRNOTAVAIL\)/);
    t.match(message, /native addon that sets IP_FREEBIND/);
    t.match(message, /net\.ipv6\.ip_nonlocal_bind is 0/);
  });

  t.test('a plain socket with net.ipv6.ip_nonlocal_bind=1 works', async (t) => {
    sysctl(1);
    t.teardown(() => sysctl(0));
    const r = await checkNat46Bind(PREFIX, { createSocket: plain, method: 'nonlocal-bind' });
    t.same(r, { ok: true, method: 'nonlocal-bind', probe: '64:ff9b:1::1' });
  });

  t.test(
    'IP_FREEBIND from the addon works without the sysctl',
    { skip: hasAddon ? false : `addon: ${nativeLoadError() ?? ''}` },
    async (t) => {
      sysctl(0);
      const r = await checkNat46Bind(PREFIX);
      t.same(r, { ok: true, method: 'freebind', probe: '64:ff9b:1::1' });
      // An unconnected fd socket reports ENOTCONN when Node starts reading it; the dialer connects at once.
      const socket = createNat46Socket();
      socket.on('error', () => {});
      socket.destroy();
      t.ok(socket.destroyed);
    },
  );

  t.test('a prefix without a route still fails with the route named', async (t) => {
    const r = await checkNat46Bind('64:ff9b:2::/96', { timeoutMs: 300 });
    t.match(r.ok ? '' : r.message, /ip -6 route add local 64:ff9b:2::\/96 dev lo/);
  });
});
