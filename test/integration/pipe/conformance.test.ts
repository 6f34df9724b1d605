/**
 * One conformance suite, run against every pipe engine available here (js always; splice where the
 * native addon loads). Real sockets on loopback: IPv4 clients, an IPv6 backend, as in production.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import t from 'tap';
import type { PipeEngine } from '../../../src/pipe/engine.js';
import { createJsEngine } from '../../../src/pipe/js-engine.js';
import { nativeLoadError } from '../../../src/pipe/native.js';
import { createSpliceEngine } from '../../../src/pipe/splice-engine.js';
import { openFdCount, readBytes, readToEnd, Rig } from './rig.js';
import type { Session } from './rig.js';

const BULK_BYTES = 1024 ** 3;

interface EngineCase {
  readonly name: string;
  create(): (PipeEngine & { close?(): void }) | null;
}

const engines: readonly EngineCase[] = [
  { name: 'js', create: () => createJsEngine() },
  { name: 'splice', create: () => createSpliceEngine() },
];

for (const ec of engines) {
  const engine = ec.create();
  if (engine === null) {
    t.test(
      `${ec.name} engine`,
      { skip: `unavailable: ${nativeLoadError() ?? 'unknown reason'}` },
      () => undefined,
    );
    continue;
  }
  t.test(`${ec.name} engine`, async (t) => {
    const rig = new Rig(engine);
    await rig.start();
    t.teardown(async () => {
      await rig.close();
      engine.close?.();
    });

    t.test('heads first and in order, then bytes Node had buffered, then the rest', async (t) => {
      const s = await rig.connect({
        clientFirst: Buffer.from('HELLO-1234|early-client|'),
        prepare: async (proxyClient, proxyBackend, backendPeer) => {
          backendPeer.write('WELCOME|early-backend|');
          const fromClient = await takeAtLeast(proxyClient, 24);
          // A sniffer that read past the hello: the rest goes back into Node's buffer.
          proxyClient.unshift(fromClient.subarray(10));
          const fromBackend = await takeAtLeast(proxyBackend, 22);
          proxyBackend.unshift(fromBackend);
          return { clientHead: fromClient.subarray(0, 10), backendHead: Buffer.from('BACKENDHEAD|') };
        },
      });
      const atBackend = readToEnd(s.backend);
      const atClient = readToEnd(s.client);
      s.client.end('late-client');
      s.backend.end('late-backend');
      t.equal((await atBackend).toString(), 'HELLO-1234|early-client|late-client');
      t.equal((await atClient).toString(), 'BACKENDHEAD|WELCOME|early-backend|late-backend');
      const result = await s.handle.done;
      t.equal(result.end, 'done');
      t.equal(result.bytesToBackend, 35);
      t.equal(result.bytesToClient, 46);
    });

    t.test('1 GiB each way arrives byte-identical', async (t) => {
      const s = await rig.connect();
      const atBackend = hashToEnd(s.backend);
      const atClient = hashToEnd(s.client, {
        at: BULK_BYTES / 2,
        check: (received) => t.ok(s.handle.bytes().toClient >= received, 'live counter covers what arrived'),
      });
      const [sentUp, sentDown] = await Promise.all([
        sendGenerated(s.client, BULK_BYTES, 1),
        sendGenerated(s.backend, BULK_BYTES, 2),
      ]);
      t.same(await atBackend, sentUp);
      t.same(await atClient, sentDown);
      const result = await s.handle.done;
      t.same(result, { bytesToBackend: BULK_BYTES, bytesToClient: BULK_BYTES, end: 'done' });
      t.same(s.handle.bytes(), { toBackend: BULK_BYTES, toClient: BULK_BYTES });
    });

    t.test('half-close: the reply after the client FIN is delivered in full', async (t) => {
      const s = await rig.connect();
      const reply = hashToEnd(s.client);
      s.client.end('question');
      t.equal((await readToEnd(s.backend)).toString(), 'question');
      const sent = await sendGenerated(s.backend, 4 * 1024 * 1024, 3);
      t.same(await reply, sent);
      t.same(await s.handle.done, { bytesToBackend: 8, bytesToClient: sent.bytes, end: 'done' });
      t.notOk((await s.clientClosed).error);
      t.notOk((await s.backendClosed).error);
    });

    t.test('a backend reset reaches the client as a reset', async (t) => {
      const s = await roundTrip(await rig.connect());
      s.backend.resetAndDestroy();
      t.equal((await s.clientClosed).error?.code, 'ECONNRESET');
      t.equal((await s.handle.done).end, 'backend-reset');
    });

    t.test('a client reset reaches the backend as a reset', async (t) => {
      const s = await roundTrip(await rig.connect());
      s.client.resetAndDestroy();
      t.equal((await s.backendClosed).error?.code, 'ECONNRESET');
      t.equal((await s.handle.done).end, 'client-reset');
    });

    t.test(
      'a client reset after its half-close ends the pair and frees both sockets',
      { timeout: 15_000 },
      async (t) => {
        const s = await roundTrip(await rig.connect());
        s.client.pause();
        s.client.end();
        await once(s.backend, 'end'); // the engine has shut the backend's write side down
        const before = openFdCount();
        s.backend.write(Buffer.alloc(1024 * 1024));
        await once(s.client, 'readable'); // the rest waits unread in the client's receive queue …
        s.client.destroy(); // … so closing it sends a RST (resetAndDestroy() after end() cannot)
        // The proxy's client socket no longer reads (EOF) and may have nothing to write: more bytes make
        // the engine write to it and see the reset, then reset the backend whose write side it shut.
        s.backend.write(Buffer.alloc(1024 * 1024));
        t.equal((await s.handle.done).end, 'client-reset');
        s.backend.end();
        await Promise.all([s.clientClosed, s.backendClosed]);
        // (≤: the splice engine may also have let go of a pipe it held for the bytes in flight.)
        t.ok(openFdCount() <= before - 4, 'both peers and both proxy sockets closed');
      },
    );

    t.test('abort() resets both peers', async (t) => {
      const s = await roundTrip(await rig.connect());
      s.handle.abort();
      s.handle.abort();
      t.equal((await s.clientClosed).error?.code, 'ECONNRESET');
      t.equal((await s.backendClosed).error?.code, 'ECONNRESET');
      const result = await s.handle.done;
      t.equal(result.end, 'aborted');
      t.same([result.bytesToBackend, result.bytesToClient], [4, 4]);
    });

    t.test('idle timeout closes both sides', async (t) => {
      const s = await roundTrip(await rig.connect({ idleTimeoutMs: 150 }));
      // Peers are half-open capable: a FIN ends their reading side, an RST closes them.
      const [result] = await Promise.all([s.handle.done, endOrClose(s.client), endOrClose(s.backend)]);
      t.equal(result.end, 'idle');
      s.client.destroy();
      s.backend.destroy();
    });

    t.test('no FIN at handoff: both peers keep talking afterwards', async (t) => {
      const s = await rig.connect();
      let ends = 0;
      s.client.on('end', () => ends++);
      s.backend.on('end', () => ends++);
      await roundTrip(s);
      await roundTrip(s);
      t.equal(ends, 0);
      const closed = Promise.all([readToEnd(s.client), readToEnd(s.backend)]);
      s.client.end();
      s.backend.end();
      await closed;
      t.equal((await s.handle.done).end, 'done');
    });

    t.test('64 pairs sending bursts of mixed sizes both ways at once arrive intact', async (t) => {
      // Quiet and busy phases interleave across pairs (the js engine switches each direction between a
      // shared buffer and one of its own): any cross-talk between pairs would change a digest.
      const results = await burstPairs(rig, 64, { bursts: 48, maxBytes: 96 * 1024, stall: false });
      for (const r of results) {
        t.same(r.gotUp, r.up);
        t.same(r.gotDown, r.down);
        t.same(r.result, { bytesToBackend: r.up.bytes, bytesToClient: r.down.bytes, end: 'done' });
      }
    });

    t.test('small writes queued behind stalled receivers arrive intact', async (t) => {
      // Each receiver reads only once its sender is blocked, so the engine's small writes queue up while
      // other pairs keep reading: a queued write must never refer to a buffer others read into.
      const results = await burstPairs(rig, 16, { bursts: 1500, maxBytes: 8 * 1024, stall: true });
      for (const r of results) {
        t.same(r.gotUp, r.up);
        t.same(r.gotDown, r.down);
      }
    });

    t.test('1,000 short connections leave the fd count where it started', async (t) => {
      await shortExchange(await rig.connect()); // warm-up: lazily created engine resources
      const before = openFdCount();
      const total = 1000;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < total) {
          next++;
          await shortExchange(await rig.connect());
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      t.equal(openFdCount(), before);
    });

    t.test('500 concurrent pairs leave the fd count where it started', async (t) => {
      const before = openFdCount();
      const sessions: Session[] = [];
      for (let i = 0; i < 500; i++) sessions.push(await rig.connect());
      t.ok(openFdCount() > before, 'pairs hold descriptors while open');
      await Promise.all(sessions.map((s) => roundTrip(s)));
      await Promise.all(sessions.map((s) => shortExchange(s)));
      t.equal(openFdCount(), before);
    });
  });
}

/** Reads from a paused socket until at least n bytes have arrived (bounded by the socket closing). */
async function takeAtLeast(socket: net.Socket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  for (let i = 0; have < n && i < 1000; i++) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      await Promise.race([once(socket, 'readable'), once(socket, 'close')]);
      continue;
    }
    chunks.push(chunk);
    have += chunk.length;
  }
  socket.pause();
  return Buffer.concat(chunks);
}

function endOrClose(socket: net.Socket): Promise<unknown> {
  return Promise.race([once(socket, 'end'), once(socket, 'close')]);
}

/** Client says ping, backend says pong: proves both directions flow after the handoff. */
async function roundTrip(s: Session): Promise<Session> {
  const atBackend = readBytes(s.backend, 4);
  s.client.write('ping');
  if ((await atBackend).toString() !== 'ping') throw new Error('round trip: backend did not get ping');
  const atClient = readBytes(s.client, 4);
  s.backend.write('pong');
  if ((await atClient).toString() !== 'pong') throw new Error('round trip: client did not get pong');
  return s;
}

/** Client sends and half-closes; backend answers after EOF and closes; waits for everything to close. */
async function shortExchange(s: Session): Promise<void> {
  const atBackend = readToEnd(s.backend);
  const atClient = readToEnd(s.client);
  s.client.end('x'.repeat(100));
  await atBackend;
  s.backend.end('y'.repeat(100));
  const reply = await atClient;
  if (reply.length !== 100) throw new Error(`short exchange: got ${reply.length} bytes`);
  const [, , result] = await Promise.all([s.clientClosed, s.backendClosed, s.handle.done]);
  if (result.end !== 'done') throw new Error(`short exchange ended with ${result.end}`);
}

interface Digest {
  readonly bytes: number;
  readonly sha256: string;
}

/** Streams `total` generated bytes (each 64 KiB chunk numbered, so reordering shows), then ends. */
async function sendGenerated(socket: net.Socket, total: number, seed: number): Promise<Digest> {
  const size = 64 * 1024;
  const base = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) base.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
  const hash = createHash('sha256');
  let sent = 0;
  for (let n = 0; sent < total; n++) {
    const chunk = Buffer.allocUnsafe(Math.min(size, total - sent));
    base.copy(chunk, 0, 0, chunk.length);
    if (chunk.length >= 8) chunk.writeUInt32LE(n, (n * 8) % (chunk.length - 4));
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
    if (socket.destroyed) throw new Error(`send: socket closed after ${sent} bytes`);
  }
  socket.end();
  return { bytes: sent, sha256: hash.digest('hex') };
}

interface BurstOptions {
  readonly bursts: number;
  readonly maxBytes: number;
  /** Receivers start reading only once their sender is blocked. */
  readonly stall: boolean;
}

async function burstPairs(rig: Rig, pairs: number, opts: BurstOptions) {
  const sessions: Session[] = [];
  for (let i = 0; i < pairs; i++) sessions.push(await rig.connect());
  return Promise.all(
    sessions.map(async (s, i) => {
      const upBlocked = blocked();
      const downBlocked = blocked();
      const atBackend = hashToEnd(s.backend, undefined, opts.stall ? upBlocked.promise : undefined);
      const atClient = hashToEnd(s.client, undefined, opts.stall ? downBlocked.promise : undefined);
      const [up, down] = await Promise.all([
        sendBursts(s.client, 2 * i + 11, opts, upBlocked.signal),
        sendBursts(s.backend, 2 * i + 12, opts, downBlocked.signal),
      ]);
      return { up, down, gotUp: await atBackend, gotDown: await atClient, result: await s.handle.done };
    }),
  );
}

function blocked(): { promise: Promise<void>; signal: () => void } {
  let signal!: () => void;
  const promise = new Promise<void>((resolve) => (signal = resolve));
  return { promise, signal };
}

const RANDOM = randomBytes(256 * 1024);

/**
 * `bursts` writes of 1 B to `maxBytes` cut from a random pool at seeded offsets, a macrotask apart, then
 * ends; `onBlocked` is called the first time the socket asks to wait for 'drain' (and at the end).
 */
async function sendBursts(
  socket: net.Socket,
  seed: number,
  opts: BurstOptions,
  onBlocked: () => void,
): Promise<Digest> {
  const hash = createHash('sha256');
  let x = seed >>> 0 || 1;
  const rand = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  let sent = 0;
  for (let burst = 0; burst < opts.bursts; burst++) {
    const size = 1 + (rand() % opts.maxBytes);
    const offset = rand() % (RANDOM.length - size);
    const chunk = Buffer.from(RANDOM.subarray(offset, offset + size));
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) {
      onBlocked();
      await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
    }
    if (socket.destroyed) throw new Error(`bursts: socket closed after ${sent} bytes`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  onBlocked();
  socket.end();
  return { bytes: sent, sha256: hash.digest('hex') };
}

function hashToEnd(
  socket: net.Socket,
  probe?: { readonly at: number; check(received: number): void },
  startAfter?: Promise<void>,
): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  let probed = false;
  if (startAfter !== undefined) {
    socket.pause();
    void startAfter.then(() => socket.resume());
  }
  socket.on('data', (d: Buffer) => {
    hash.update(d);
    bytes += d.length;
    if (probe !== undefined && !probed && bytes >= probe.at) {
      probed = true;
      probe.check(bytes);
    }
  });
  return once(socket, 'end').then(() => ({ bytes, sha256: hash.digest('hex') }));
}
