// The dialer against real sockets on [::1]. Cases that need several local addresses, an address that
// never answers or an unreachable route run in dialer-netns.test.ts, inside a private namespace.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, Socket } from 'node:net';
import t, { type Test } from 'tap';
import { dial } from '../../../src/connect/dialer.js';
import { ProxyError } from '../../../src/errors.js';
import { AddressPolicy } from '../../../src/resolve/address-policy.js';

const policy = AddressPolicy.create({ allow: ['::1/128', '2001:db8::/32'] });

async function listen(t: Test, onConnection: (s: Socket) => void = () => undefined): Promise<number> {
  const accepted = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    accepted.add(s);
    s.on('error', () => undefined).on('close', () => accepted.delete(s));
    onConnection(s);
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of accepted) s.destroy();
    server.close();
    await once(server, 'close');
  });
  return (server.address() as AddressInfo).port;
}

/** A port on [::1] that nothing listens on (bound, read, closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '::1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
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

const base = { policy, connectTimeoutMs: 5000, attemptDelayMs: 250 } as const;

t.test('connects to a listening [::1] port and hands the socket over paused and bare', async (t) => {
  const port = await listen(t, (s) => s.end('hello from the backend'));
  const before = timers();
  const result = await dial({ ...base, addresses: ['::1'], port });
  const { socket } = result;
  t.teardown(() => socket.destroy());
  t.equal(result.address, '::1');
  t.equal(result.attempts, 1);
  t.ok(result.durationMs >= 0);
  t.equal(socket.remoteAddress, '::1');
  t.equal(socket.remotePort, port);
  t.ok(socket.isPaused(), 'paused');
  t.ok(socket.allowHalfOpen, 'allowHalfOpen');
  t.equal(socket.listenerCount('error'), 0, 'no error listener left');
  t.equal(socket.listenerCount('connect'), 0, 'no connect listener left');
  t.equal(timers(), before, 'no timer left behind');
  const chunks: Buffer[] = [];
  socket.on('data', (b: Buffer) => chunks.push(b));
  socket.resume();
  await once(socket, 'end');
  t.equal(Buffer.concat(chunks).toString(), 'hello from the backend', 'bytes arrive after resume');
  t.notOk(socket.destroyed, 'half-open: our side still writable after the peer FIN');
  socket.end();
});

t.test('the policy decides per address, right before the dial', async (t) => {
  const port = await listen(t);
  let created = 0;
  const createSocket = (): Socket => {
    created++;
    return new Socket({ allowHalfOpen: true });
  };
  const skipped = await dial({
    ...base,
    addresses: ['::ffff:127.0.0.1', '2001:db9::1', '::1'],
    port,
    createSocket,
  });
  t.teardown(() => skipped.socket.destroy());
  t.equal(skipped.address, '::1');
  t.equal(skipped.attempts, 1, 'refused addresses are not dialled');
  t.equal(created, 1);

  const err = await rejection(
    dial({ ...base, addresses: ['::ffff:127.0.0.1', 'fe80::1%lo', '127.0.0.1'], port, createSocket }),
  );
  t.equal(err.code, 'EDGE_BLOCKED_ADDRESS');
  t.match(err.message, `[::ffff:127.0.0.1]:${port} refused by policy: IPv4-mapped address`);
  t.match(err.message, `[fe80::1%lo]:${port} refused by policy: link-local address`);
  t.match(err.message, `[127.0.0.1]:${port} refused by policy: IPv4 address`);
  t.equal(created, 1, 'no socket for refused addresses');

  const none = await rejection(dial({ ...base, addresses: [], port }));
  t.equal(none.code, 'EDGE_BLOCKED_ADDRESS');
  t.match(none.message, /no address/);
});

t.test('a refused port is EDGE_CONNECT_REFUSED naming the address', async (t) => {
  const port = await closedPort();
  const before = timers();
  const err = await rejection(dial({ ...base, addresses: ['::1', '0:0::1'], port }));
  t.equal(err.code, 'EDGE_CONNECT_REFUSED');
  t.equal(err.message, `connection refused: [::1]:${port} ECONNREFUSED, [0:0::1]:${port} ECONNREFUSED`);
  t.type(err.cause, AggregateError);
  t.equal(timers(), before, 'no timer left behind');
  const one = await rejection(dial({ ...base, addresses: ['::1'], port }));
  t.match(one.cause, { code: 'ECONNREFUSED' }, 'a single failure is the cause itself');
});

t.test('local address: bound when given; an address not on this host fails the attempt', async (t) => {
  const port = await listen(t);
  const bound = await dial({ ...base, addresses: ['::1'], port, localAddress: '::1' });
  t.teardown(() => bound.socket.destroy());
  t.equal(bound.socket.localAddress, '::1');
  const err = await rejection(dial({ ...base, addresses: ['::1'], port, localAddress: '2001:db8:ffff::1' }));
  t.equal(err.code, 'EDGE_CONNECT_FAILED');
  t.match(err.message, `[::1]:${port} EADDRNOTAVAIL`);
});

t.test('createSocket throwing or connect throwing counts as a failed attempt', async (t) => {
  const port = await listen(t);
  const thrown = await rejection(
    dial({
      ...base,
      addresses: ['::1'],
      port,
      createSocket: () => {
        throw Object.assign(new Error('no fd'), { code: 'EMFILE' });
      },
    }),
  );
  t.equal(thrown.code, 'EDGE_CONNECT_FAILED');
  t.match(thrown.message, `[::1]:${port} EMFILE`);
  const badPort = await rejection(dial({ ...base, addresses: ['::1'], port: 70_000 }));
  t.equal(badPort.code, 'EDGE_CONNECT_FAILED');
  t.match(badPort.message, /ERR_SOCKET_BAD_PORT/);
});

t.test('an aborted signal rejects without dialling', async (t) => {
  const port = await listen(t);
  let created = 0;
  const createSocket = (): Socket => {
    created++;
    return new Socket();
  };
  const ac = new AbortController();
  ac.abort();
  const err = await rejection(dial({ ...base, addresses: ['::1'], port, signal: ac.signal, createSocket }));
  t.equal(err.code, 'EDGE_CLIENT_CLOSED');
  t.equal(created, 0);
  const reason = new ProxyError('EDGE_SHUTTING_DOWN', 'draining');
  const err2 = await rejection(
    dial({ ...base, addresses: ['::1'], port, signal: AbortSignal.abort(reason) }),
  );
  t.equal(err2, reason, 'a ProxyError reason is passed through');
});

t.test('abort while connecting destroys the attempt; the signal loses its listener on settle', async (t) => {
  const port = await listen(t);
  const ac = new AbortController();
  const made: Socket[] = [];
  const pending = dial({
    ...base,
    addresses: ['::1'],
    port,
    signal: ac.signal,
    createSocket: () => {
      const s = new Socket();
      made.push(s);
      ac.abort(); // before connect() is even called: the attempt is in flight when the abort lands
      return s;
    },
  });
  const err = await rejection(pending);
  t.equal(err.code, 'EDGE_CLIENT_CLOSED');
  t.ok(made[0]?.destroyed, 'attempt destroyed');

  const ac2 = new AbortController();
  const ok = await dial({ ...base, addresses: ['::1'], port, signal: ac2.signal });
  ok.socket.destroy();
  ac2.abort(); // must be a no-op now
  t.pass('abort after success does nothing');
});
