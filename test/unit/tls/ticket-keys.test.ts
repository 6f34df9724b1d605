import t, { type Test } from 'tap';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { createServerContext } from '../../../src/tls/server-context.js';
import { newTicketSeed, TicketKeys } from '../../../src/tls/ticket-keys.js';
import { tlsFixtures as f } from './fixtures.js';

/** A server that wraps each accepted socket in a server TLSSocket (the way terminate does). */
async function server(t: Test, keys: TicketKeys): Promise<{ port: number; reused: boolean[] }> {
  const context = createServerContext(
    { certPem: f.cert('exact'), keyPem: f.key('exact') },
    { tickets: keys, sessionTimeoutSeconds: 300 },
  );
  const reused: boolean[] = [];
  const srv = createServer((socket: Socket) => {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    secure.on('secure', () => reused.push(secure.isSessionReused()));
    secure.on('error', () => {});
    secure.on('data', () => secure.end('ok'));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => srv.close());
  return { port: (srv.address() as AddressInfo).port, reused };
}

/** One request; resolves with the session to resume next time and whether this one was resumed. */
function connect(
  port: number,
  version: tls.SecureVersion,
  session?: Buffer,
): Promise<{ session: Buffer | undefined; reused: boolean }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'a.example.com',
      ca: f.ca,
      minVersion: version,
      maxVersion: version,
      ...(session === undefined ? {} : { session }),
    });
    socket.on('session', (s: Buffer) => (latest = s));
    socket.on('secureConnect', () => socket.write('hi'));
    socket.on('error', reject);
    socket.resume();
    socket.on('end', () => {
      const reused = socket.isSessionReused();
      socket.end();
      resolve({ session: latest, reused });
    });
  });
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  t.test(`${version}: tickets resume, across one rotation, not across two`, async (t) => {
    const keys = new TicketKeys(3_600_000);
    t.teardown(() => keys.close());
    const { port, reused } = await server(t, keys);
    const first = await connect(port, version);
    t.equal(first.reused, false);
    t.ok(first.session, 'a ticket was issued');
    const second = await connect(port, version, first.session);
    t.equal(second.reused, true, 'resumed with the current key');

    keys.rotate();
    t.equal(keys.keepsPrevious, true);
    const third = await connect(port, version, first.session);
    t.equal(third.reused, true, 'the previous key still decrypts');

    keys.rotate();
    keys.rotate();
    const fourth = await connect(port, version, first.session);
    t.equal(fourth.reused, false, 'a ticket two rotations old means a full handshake');
    t.same(reused, [false, true, true, false], 'the server saw the same');
    t.equal(keys.rotations, 3);
  });
}

t.test('keys derive from the seed and the clock: same seed, same keys, in any process', async (t) => {
  const seed = newTicketSeed();
  const hour = 3_600_000;
  let now = 100 * hour + 5;
  const issuer = new TicketKeys(hour, { seed, now: () => now });
  const { port: issuerPort } = await server(t, issuer);
  const first = await connect(issuerPort, 'TLSv1.3');
  t.ok(first.session);

  // Another "worker" with the same seed, same period: resumes the other one's ticket.
  const sibling = new TicketKeys(hour, { seed, now: () => now });
  const { port: siblingPort } = await server(t, sibling);
  t.equal((await connect(siblingPort, 'TLSv1.3', first.session)).reused, true);

  // One started a period later still holds the previous key; two periods later it does not.
  now += hour;
  const later = new TicketKeys(hour, { seed, now: () => now });
  t.equal((await connect((await server(t, later)).port, 'TLSv1.3', first.session)).reused, true);
  now += hour;
  const muchLater = new TicketKeys(hour, { seed, now: () => now });
  t.equal((await connect((await server(t, muchLater)).port, 'TLSv1.3', first.session)).reused, false);

  // A different seed shares nothing.
  const stranger = new TicketKeys(hour, { now: () => 100 * hour + 5 });
  t.equal((await connect((await server(t, stranger)).port, 'TLSv1.3', first.session)).reused, false);
  t.throws(() => new TicketKeys(hour, { seed: Buffer.alloc(8) }), /at least 32 bytes/);
});

t.test('start/close: the rotation timer never holds the process', async (t) => {
  const keys = new TicketKeys(60_000);
  keys.start();
  keys.start();
  keys.close();
  keys.close();
  t.pass();
});
