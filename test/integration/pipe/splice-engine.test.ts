/**
 * What only the splice engine has to prove (the shared behaviour is in conformance.test.ts): the handoff
 * leaves nothing in libuv's epoll, several worker threads, close(), an idle pump not holding the process
 * open, and process.exit() mid-transfer resetting the peers instead of sending a clean FIN.
 */
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { nativeLoadError } from '../../../src/pipe/native.js';
import { createSpliceEngine } from '../../../src/pipe/splice-engine.js';
import type { SpliceEngine } from '../../../src/pipe/splice-engine.js';
import { childEnv, spawnProcess } from '../../helpers/process.js';
import { openFdCount, readBytes, readToEnd, Rig } from './rig.js';
import type { Session } from './rig.js';

const probe = createSpliceEngine();
if (probe === null) {
  t.plan(0, `splice engine unavailable: ${nativeLoadError() ?? 'unknown reason'}`);
} else {
  probe.close();
  t.test('handoff: the original fds leave every epoll set', async (t) => {
    const engine = createSpliceEngine() as SpliceEngine;
    let originals: number[] = [];
    const rig = new Rig({
      name: 'splice',
      start: (client, backend, opts) => {
        originals = [fdOf(client), fdOf(backend)];
        return engine.start(client, backend, opts);
      },
    });
    await rig.start();
    t.teardown(async () => {
      await rig.close();
      engine.close();
    });
    const s = await roundTrip(await rig.connect());
    t.equal(originals.length, 2);
    const watched = epollTargets();
    for (const fd of originals) t.notOk(watched.has(fd), `fd ${fd} is in no epoll set`);
    await finish(s);
  });

  t.test('two worker threads: pairs on both move bytes, abort by id, fds return', async (t) => {
    const engine = createSpliceEngine({ threads: 2 }) as SpliceEngine;
    const rig = new Rig(engine);
    await rig.start();
    t.teardown(async () => {
      await rig.close();
      engine.close();
    });
    await finish(await roundTrip(await rig.connect())); // warm-up: the pump and its threads
    const before = openFdCount();
    const sessions: Session[] = [];
    for (let i = 0; i < 64; i++) sessions.push(await rig.connect());
    t.equal(engine.active, 64);
    await Promise.all(sessions.map(roundTrip));
    const [aborted, kept] = [sessions.slice(0, 8), sessions.slice(8)];
    for (const s of aborted) s.handle.abort();
    for (const s of aborted) {
      t.equal((await s.handle.done).end, 'aborted');
      t.equal((await s.clientClosed).error?.code, 'ECONNRESET');
    }
    await Promise.all(kept.map(finish));
    t.equal(engine.active, 0);
    t.equal(openFdCount(), before);
  });

  t.test('close() resets open pairs and settles their handles as aborted', async (t) => {
    const engine = createSpliceEngine() as SpliceEngine;
    const rig = new Rig(engine);
    await rig.start();
    t.teardown(() => rig.close());
    const s = await roundTrip(await rig.connect());
    engine.close();
    engine.close();
    t.same(await s.handle.done, { bytesToBackend: 4, bytesToClient: 4, end: 'aborted' });
    t.equal((await s.clientClosed).error?.code, 'ECONNRESET');
    t.equal((await s.backendClosed).error?.code, 'ECONNRESET');
    const late = await rig.connect();
    t.equal((await late.handle.done).end, 'error');
  });

  t.test('terminating a worker thread mid-transfer resets its pairs', async (t) => {
    const backend = net.createServer({ allowHalfOpen: true });
    const peerSaw: Promise<string>[] = [];
    backend.on('connection', (s) => peerSaw.push(firstSign(s)));
    backend.listen(0, '::1');
    await once(backend, 'listening');
    t.teardown(() => backend.close());
    // The environment cleanup hook must stop and join the pump's threads before Node tears down the
    // threadsafe function they call; plain JS against the addon, as the worker cannot load TypeScript.
    const worker = new Worker(WORKER_PROXY, {
      eval: true,
      workerData: { addonPath: ADDON_PATH, port: (backend.address() as net.AddressInfo).port },
    });
    const [port] = (await once(worker, 'message')) as [number];
    const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const clientSaw = firstSign(client);
    await once(worker, 'message');
    await worker.terminate();
    t.equal(await clientSaw, 'ECONNRESET');
    t.equal(peerSaw.length, 1);
    t.equal(await peerSaw[0], 'ECONNRESET');
    client.destroy();
  });

  t.test('child processes', async (t) => {
    const backend = net.createServer({ allowHalfOpen: true });
    const accepted: net.Socket[] = [];
    backend.on('connection', (s) => accepted.push(s));
    backend.listen(0, '::1');
    await once(backend, 'listening');
    t.teardown(() => backend.close());
    const script = fileURLToPath(new URL('./splice-child.ts', import.meta.url));
    const child = (mode: string) =>
      spawnProcess(
        [
          process.execPath,
          ...process.execArgv,
          script,
          String((backend.address() as net.AddressInfo).port),
          mode,
        ],
        { t, env: childEnv(), name: `splice-child ${mode}` },
      );

    t.test('an idle pump does not hold the process open', async (t) => {
      const proc = child('one-pair');
      const { port } = await proc.waitForJson((r) => r.event === 'listening', 20_000);
      const client = net.connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
      client.on('error', () => undefined);
      const reply = readToEnd(client);
      await proc.waitForJson((r) => r.event === 'started', 10_000);
      const peer = accepted.at(-1);
      if (peer === undefined) throw new Error('no backend connection');
      const got = readToEnd(peer);
      client.end('bye');
      t.equal((await got).toString(), 'child|bye');
      peer.end('ok');
      t.equal((await reply).toString(), 'ok');
      await proc.waitForJson((r) => r.event === 'done' && r.end === 'done', 10_000);
      t.same(await proc.exited, { code: 0, signal: null }, 'exits on its own');
    });

    t.test('process.exit() mid-transfer resets both peers', async (t) => {
      const proc = child('exit-on-usr2');
      const { port } = await proc.waitForJson((r) => r.event === 'listening', 20_000);
      const client = net.connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
      const clientSaw = firstSign(client);
      await proc.waitForJson((r) => r.event === 'started', 10_000);
      const peer = accepted.at(-1);
      if (peer === undefined) throw new Error('no backend connection');
      const peerSaw = firstSign(peer);
      const atPeer = readBytes(peer, 10);
      client.write('ping');
      t.equal((await atPeer).toString(), 'child|ping');
      process.kill(proc.pid, 'SIGUSR2');
      t.equal((await proc.exited).code, 0);
      // A clean FIN here would tell the peers a truncated stream was complete.
      t.equal(await clientSaw, 'ECONNRESET');
      t.equal(await peerSaw, 'ECONNRESET');
      client.destroy();
      peer.destroy();
    });
  });
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/edge46.node', import.meta.url));

const WORKER_PROXY = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const addon = require(workerData.addonPath);
const pump = new addon.Pump(2, () => undefined);
const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => {
  const b = net.connect({ host: '::1', port: workerData.port, allowHalfOpen: true });
  b.pause();
  b.once('connect', () => {
    pump.add(c._handle.fd, b._handle.fd, Buffer.from('x'), Buffer.alloc(0), 0, new Float64Array(2));
    c.destroy();
    b.destroy();
    parentPort.postMessage('started');
  });
});
proxy.listen(0, '127.0.0.1', () => parentPort.postMessage(proxy.address().port));
`;

/** 'end' for a FIN, the error code for a failure (RST: ECONNRESET); keeps the socket flowing. */
function firstSign(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.on('data', () => undefined);
    socket.once('end', () => resolve('end'));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

function fdOf(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number') throw new Error('socket has no fd');
  return fd;
}

/** Every fd registered in any epoll instance of this process (from /proc/self/fdinfo). */
function epollTargets(): Set<number> {
  const targets = new Set<number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:[eventpoll]') continue;
    for (const m of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').matchAll(/^tfd:\s+(\d+)/gm)) {
      targets.add(Number(m[1]));
    }
  }
  return targets;
}

async function roundTrip(s: Session): Promise<Session> {
  const atBackend = readBytes(s.backend, 4);
  s.client.write('ping');
  if ((await atBackend).toString() !== 'ping') throw new Error('round trip: backend did not get ping');
  const atClient = readBytes(s.client, 4);
  s.backend.write('pong');
  if ((await atClient).toString() !== 'pong') throw new Error('round trip: client did not get pong');
  return s;
}

async function finish(s: Session): Promise<void> {
  const closed = Promise.all([readToEnd(s.client), readToEnd(s.backend)]);
  s.client.end();
  s.backend.end();
  await closed;
  const result = await s.handle.done;
  if (result.end !== 'done') throw new Error(`pair ended with ${result.end}`);
  await Promise.all([s.clientClosed, s.backendClosed]);
}
