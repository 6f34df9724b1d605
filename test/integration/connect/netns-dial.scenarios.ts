// Run by dialer-netns.test.ts inside a private network namespace (`unshare -rn`) that it set up with:
//   lo: ::1, 2001:db8:1::1 (nothing listens: refused), 2001:db8:1::2 (the listening backend)
//   2001:db8:dead::/48 → a veth whose peer drops every frame (a SYN there is never answered)
//   2001:db8:bad::/48  → an `unreachable` route (EHOSTUNREACH at once)
// Not a *.test.ts file: run on the host it would dial the host's networks.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, Socket } from 'node:net';
import t from 'tap';
import { dial } from '../../../src/connect/dialer.js';
import { ProxyError } from '../../../src/errors.js';
import { AddressPolicy } from '../../../src/resolve/address-policy.js';

const REFUSING = '2001:db8:1::1';
const LISTENING = '2001:db8:1::2';
const BLACKHOLE = '2001:db8:dead::1';
const BLACKHOLE_2 = '2001:db8:dead::2';
const UNREACHABLE = '2001:db8:bad::1';

if (process.env.EDGE46_DIAL_NETNS !== '1') {
  t.plan(0, 'only inside the namespace dialer-netns.test.ts creates');
  process.exit(0);
}

const policy = AddressPolicy.create({ allow: ['2001:db8::/32'] });

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

/** Records every socket the dialer creates, so a test can check the losers were destroyed. */
function recorder(): { made: Socket[]; createSocket: () => Socket } {
  const made: Socket[] = [];
  return {
    made,
    createSocket: () => {
      const s = new Socket({ allowHalfOpen: true });
      made.push(s);
      return s;
    },
  };
}

const server = createServer((s) => {
  s.on('error', () => undefined);
  s.end('backend');
});
server.listen(0, LISTENING);
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
t.teardown(() => server.close());

t.test('first address refused, second works: the failure starts the next at once', async (t) => {
  const rec = recorder();
  const before = timers();
  // A 60 s stagger: only the failure of the first can have started the second.
  const result = await dial({
    addresses: [REFUSING, LISTENING],
    port,
    policy,
    connectTimeoutMs: 120_000,
    attemptDelayMs: 60_000,
    createSocket: rec.createSocket,
  });
  result.socket.destroy();
  t.equal(result.address, LISTENING);
  t.equal(result.attempts, 2);
  t.equal(rec.made.length, 2);
  t.ok(rec.made[0]?.destroyed, 'refused attempt destroyed');
  t.equal(timers(), before, 'no timer left behind');
});

t.test('a black-holed first address: the next starts after the attempt delay and wins', async (t) => {
  const rec = recorder();
  const before = timers();
  const result = await dial({
    addresses: [BLACKHOLE, LISTENING],
    port,
    policy,
    connectTimeoutMs: 60_000,
    attemptDelayMs: 50,
    createSocket: rec.createSocket,
  });
  t.equal(result.address, LISTENING);
  t.equal(result.attempts, 2);
  t.equal(result.socket.remoteAddress, LISTENING);
  t.ok(rec.made[0]?.destroyed, 'the still-trying loser is destroyed');
  t.notOk(rec.made[1]?.destroyed, 'the winner is not');
  t.ok(result.socket.isPaused());
  t.equal(result.socket.listenerCount('error'), 0);
  t.equal(timers(), before, 'no timer left behind (the 60 s deadline is cleared)');
  const chunks: Buffer[] = [];
  result.socket.on('data', (b: Buffer) => chunks.push(b)).resume();
  await once(result.socket, 'end');
  t.equal(Buffer.concat(chunks).toString(), 'backend');
  result.socket.destroy();
});

t.test('only black holes: EDGE_CONNECT_TIMEOUT names each address', async (t) => {
  const rec = recorder();
  const before = timers();
  const err = await rejection(
    dial({
      addresses: [BLACKHOLE, BLACKHOLE_2, LISTENING],
      port,
      policy,
      connectTimeoutMs: 300,
      attemptDelayMs: 10_000,
      createSocket: rec.createSocket,
    }),
  );
  t.equal(err.code, 'EDGE_CONNECT_TIMEOUT');
  t.equal(
    err.message,
    `connect timed out after 300 ms: [${BLACKHOLE}]:${port} timeout, ` +
      `[${BLACKHOLE_2}]:${port} not tried, [${LISTENING}]:${port} not tried`,
  );
  t.equal(rec.made.length, 1);
  t.ok(rec.made.every((s) => s.destroyed));
  t.equal(timers(), before);

  const both = await rejection(
    dial({ addresses: [BLACKHOLE, BLACKHOLE_2], port, policy, connectTimeoutMs: 300, attemptDelayMs: 1 }),
  );
  t.equal(
    both.message,
    `connect timed out after 300 ms: [${BLACKHOLE}]:${port} timeout, [${BLACKHOLE_2}]:${port} timeout`,
  );
});

t.test('unreachable: EDGE_CONNECT_FAILED; mixed with refused still FAILED, both named', async (t) => {
  const err = await rejection(
    dial({ addresses: [UNREACHABLE], port, policy, connectTimeoutMs: 5000, attemptDelayMs: 250 }),
  );
  t.equal(err.code, 'EDGE_CONNECT_FAILED');
  t.equal(err.message, `connect failed: [${UNREACHABLE}]:${port} EHOSTUNREACH`);
  const mixed = await rejection(
    dial({ addresses: [REFUSING, UNREACHABLE], port, policy, connectTimeoutMs: 5000, attemptDelayMs: 250 }),
  );
  t.equal(mixed.code, 'EDGE_CONNECT_FAILED');
  t.equal(
    mixed.message,
    `connect failed: [${REFUSING}]:${port} ECONNREFUSED, [${UNREACHABLE}]:${port} EHOSTUNREACH`,
  );
});

t.test('a black-holed attempt keeps trying while a later failure moves on', async (t) => {
  // black hole (pending) → after the delay: refused (fails) → at once: the listening one wins.
  const result = await dial({
    addresses: [BLACKHOLE, REFUSING, LISTENING],
    port,
    policy,
    connectTimeoutMs: 60_000,
    attemptDelayMs: 20,
  });
  t.equal(result.address, LISTENING);
  t.equal(result.attempts, 3);
  result.socket.destroy();
});

t.test('the policy is re-checked at dial time: a refused address is skipped', async (t) => {
  const narrow = AddressPolicy.create({ allow: [`${LISTENING}/128`] });
  const rec = recorder();
  const result = await dial({
    addresses: [BLACKHOLE, LISTENING],
    port,
    policy: narrow,
    connectTimeoutMs: 60_000,
    attemptDelayMs: 60_000,
    createSocket: rec.createSocket,
  });
  t.equal(result.attempts, 1, 'the black hole was never dialled');
  t.equal(rec.made.length, 1);
  result.socket.destroy();
});

t.test('abort while an attempt hangs: everything destroyed, no timers', async (t) => {
  const rec = recorder();
  const ac = new AbortController();
  const before = timers();
  const pending = dial({
    addresses: [BLACKHOLE, BLACKHOLE_2],
    port,
    policy,
    connectTimeoutMs: 60_000,
    attemptDelayMs: 60_000,
    signal: ac.signal,
    createSocket: () => {
      const s = rec.createSocket();
      // Abort once the attempt's connect() is under way. Not inside the listener itself: Node emits
      // 'connectionAttempt' just before calling connect on the handle a destroy() would remove.
      s.once('connectionAttempt', () => setImmediate(() => ac.abort()));
      return s;
    },
  });
  const err = await rejection(pending);
  t.equal(err.code, 'EDGE_CLIENT_CLOSED');
  t.match(err.message, `in progress: [${BLACKHOLE}]:${port}`);
  t.equal(rec.made.length, 1);
  t.ok(rec.made[0]?.destroyed);
  t.equal(timers(), before);
});
