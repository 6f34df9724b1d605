/**
 * A test rig for pipe engines: a backend server on [::1]:0, a minimal proxy on 127.0.0.1:0 that hands each
 * accepted connection and its freshly connected backend socket to the engine (both paused, allowHalfOpen,
 * as the real accept path does), and clients. Each session gives the test both real peers (the client and
 * the backend's accepted socket) and the engine's handle.
 */
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import type { PipeEngine, PipeHandle } from '../../../src/pipe/engine.js';

export interface Session {
  /** The test's client, connected to the proxy. */
  readonly client: net.Socket;
  /** The backend server's side of the proxied connection. */
  readonly backend: net.Socket;
  readonly handle: PipeHandle;
  /** Resolves on the client's 'close': its first error (if any) and whether it saw EOF. */
  readonly clientClosed: Promise<Closed>;
  readonly backendClosed: Promise<Closed>;
}

export interface Closed {
  readonly error: NodeJS.ErrnoException | undefined;
  readonly ended: boolean;
}

/**
 * Runs on the proxy once both of its sockets are connected, before the handoff; returns the heads.
 * `backendPeer` is the backend server's socket (the test's side).
 */
export type Prepare = (
  proxyClient: net.Socket,
  proxyBackend: net.Socket,
  backendPeer: net.Socket,
) => Promise<{ clientHead: Buffer; backendHead?: Buffer }>;

export interface SessionOptions {
  readonly idleTimeoutMs?: number;
  /** Written by the client right after connecting, before the proxy hands over. */
  readonly clientFirst?: Buffer;
  readonly prepare?: Prepare;
}

interface Proxied {
  readonly handle: PipeHandle;
  readonly backend: net.Socket;
  readonly backendClosed: Promise<Closed>;
}

interface Pending {
  resolve(value: Proxied): void;
  reject(err: unknown): void;
  readonly opts: SessionOptions;
}

/** Pairs up values put and asked for under the same key, whichever comes first. */
class Rendezvous<K, V> {
  private readonly values = new Map<K, V>();
  private readonly waiters = new Map<K, (v: V) => void>();

  put(key: K, value: V): void {
    const waiter = this.waiters.get(key);
    if (waiter === undefined) this.values.set(key, value);
    else {
      this.waiters.delete(key);
      waiter(value);
    }
  }

  get(key: K): Promise<V> {
    const value = this.values.get(key);
    if (value !== undefined) {
      this.values.delete(key);
      return Promise.resolve(value);
    }
    return new Promise((resolve) => this.waiters.set(key, resolve));
  }
}

export class Rig {
  private readonly backendServer = net.createServer({ allowHalfOpen: true });
  private readonly proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  /** Backend-side accepted sockets by their remote port (= the proxy's backend socket's local port). */
  private readonly accepted = new Rendezvous<number, { socket: net.Socket; closed: Promise<Closed> }>();
  /** Sessions by the client's local port (= the proxy's accepted socket's remote port). */
  private readonly sessions = new Rendezvous<number, Pending>();
  private backendPort = 0;
  private proxyPort = 0;

  constructor(private readonly engine: PipeEngine) {
    this.backendServer.on('connection', (s) => {
      this.accepted.put(s.remotePort ?? 0, { socket: s, closed: watchClose(s) });
    });
    this.proxy.on('connection', (c) => this.onProxyConnection(c));
  }

  async start(): Promise<void> {
    this.backendServer.listen(0, '::1');
    await once(this.backendServer, 'listening');
    this.backendPort = (this.backendServer.address() as net.AddressInfo).port;
    this.proxy.listen(0, '127.0.0.1');
    await once(this.proxy, 'listening');
    this.proxyPort = (this.proxy.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    const closing = [this.proxy, this.backendServer].map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    await Promise.all(closing);
  }

  async connect(opts: SessionOptions = {}): Promise<Session> {
    const client = net.connect({ host: '127.0.0.1', port: this.proxyPort, allowHalfOpen: true });
    const clientClosed = watchClose(client);
    await once(client, 'connect');
    if (opts.clientFirst !== undefined) client.write(opts.clientFirst);
    const proxied = await new Promise<Proxied>((resolve, reject) =>
      this.sessions.put(client.localPort ?? 0, { resolve, reject, opts }),
    );
    return { client, clientClosed, ...proxied };
  }

  private onProxyConnection(c: net.Socket): void {
    c.on('error', () => undefined);
    const b = net.connect({ host: '::1', port: this.backendPort, allowHalfOpen: true });
    b.pause();
    b.on('error', () => undefined);
    b.once('connect', () => void this.handOver(c, b));
  }

  private async handOver(c: net.Socket, b: net.Socket): Promise<void> {
    const pending = await this.sessions.get(c.remotePort ?? 0);
    try {
      const backend = await this.accepted.get(b.localPort ?? 0);
      const heads = pending.opts.prepare
        ? await pending.opts.prepare(c, b, backend.socket)
        : { clientHead: Buffer.alloc(0) };
      const handle = this.engine.start(c, b, { ...heads, idleTimeoutMs: pending.opts.idleTimeoutMs ?? 0 });
      pending.resolve({ handle, backend: backend.socket, backendClosed: backend.closed });
    } catch (err) {
      pending.reject(err);
    }
  }
}

/** Must be attached before the first tick in which the socket can fail; also keeps errors handled. */
export function watchClose(socket: net.Socket): Promise<Closed> {
  let error: NodeJS.ErrnoException | undefined;
  let ended = false;
  socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err));
  socket.on('end', () => (ended = true));
  return new Promise((resolve) => socket.once('close', () => resolve({ error, ended })));
}

/** Resolves with everything read until EOF. */
export async function readToEnd(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** Resolves with the first `n` bytes read (the socket keeps flowing). */
export function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (d: Buffer): void => {
      chunks.push(d);
      have += d.length;
      if (have >= n) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(Buffer.concat(chunks).subarray(0, n));
      }
    };
    const onClose = (): void => reject(new Error(`closed after ${have} of ${n} bytes`));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
