// Run by freebind-netns.test.ts inside a private network namespace (`unshare -rn`) set up with lo up and
// `ip -6 route add local 64:ff9b:1::/96 dev lo`: the prefix is local for routing, yet a plain bind to an
// address in it fails (EADDRNOTAVAIL) unless the socket has IP_FREEBIND.
// Not a *.test.ts file: on the host it would need that route.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, Socket } from 'node:net';
import t from 'tap';
import { createFreebindSocket } from '../../../src/connect/freebind.js';

if (process.env.EDGE46_FREEBIND_NETNS !== '1') {
  t.plan(0, 'only inside the namespace freebind-netns.test.ts creates');
  process.exit(0);
}

/** 192.0.2.10 embedded in the RFC 8215 local-use prefix, as sourceNat46Prefix dials it. */
const NAT46_SOURCE = '64:ff9b:1::c000:20a';

const seen: string[] = [];
const server = createServer((s) => {
  s.on('error', () => undefined);
  seen.push(s.remoteAddress ?? '');
  s.end(`hello ${s.remoteAddress ?? ''}`);
});
server.listen(0, '::1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
t.teardown(() => server.close());

function exchange(socket: Socket): Promise<{ reply: string; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ reply: '', error }));
    socket.on('end', () => {
      socket.end();
      resolve({ reply: Buffer.concat(chunks).toString() });
    });
    socket.connect({ host: '::1', port, localAddress: NAT46_SOURCE });
  });
}

t.test('a plain socket cannot bind inside the local prefix', async (t) => {
  const { error } = await exchange(new Socket({ allowHalfOpen: true }));
  t.equal(error?.code, 'EADDRNOTAVAIL');
  t.equal(error?.syscall, 'bind');
});

t.test('a freebind socket binds there and the peer sees the NAT46 source', async (t) => {
  const socket = createFreebindSocket(6);
  if (socket === null) throw new Error('addon unavailable inside the namespace');
  const { reply, error } = await exchange(socket);
  t.equal(error, undefined);
  t.equal(reply, `hello ${NAT46_SOURCE}`);
  t.equal(seen.at(-1), NAT46_SOURCE);
});

t.test('an IPv4 freebind socket connects like any other', async (t) => {
  const server4 = createServer((s) => s.end('hello v4'));
  server4.listen(0, '127.0.0.1');
  await once(server4, 'listening');
  t.teardown(() => server4.close());
  const socket = createFreebindSocket(4);
  if (socket === null) throw new Error('addon unavailable inside the namespace');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.connect({ host: '127.0.0.1', port: (server4.address() as AddressInfo).port });
  await once(socket, 'end');
  socket.end();
  t.equal(Buffer.concat(chunks).toString(), 'hello v4');
});
