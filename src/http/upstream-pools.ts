/**
 * Backend connection pools for http listeners: one undici Pool per backend (a name or a literal
 * address, and a port), keep-alive, at most `http.upstream.connections` connections, pipelining off.
 *
 * Every new backend connection is made by edge46's own dialer, exactly as on the passthrough path: the
 * name's AAAA answer from the cached resolver, the allowlist re-checked per address right before it is
 * dialled, staggered attempts over several addresses, `timeouts.connectMs`. undici only ever sees an
 * established socket (its `connect` option).
 *
 * Each pooled undici Client carries an UpstreamConnection record (address dialled, resolve and connect
 * durations); the Client hands it to the request it is given, so the access log can name the backend
 * address and tell a fresh connection from a reused one.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Client, Pool, type Dispatcher } from 'undici';
import type { DataPath } from '../accept/data-path.js';
import type { HttpConfig } from '../config/schema.js';
import { formatHostPort } from '../accept/address.js';
import type { ClientSource } from '../connect/client-source.js';
import { dial } from '../connect/dialer.js';
import { secureUpstream, upstreamTlsKey, type UpstreamTls } from '../tls/upstream-tls.js';
import type { Logger } from '../observe/logger.js';

/** What a request is sent to: the route's target after expansion, and the backend port. */
export type UpstreamTarget = (
  | { readonly kind: 'name'; readonly name: string; readonly port: number }
  | { readonly kind: 'address'; readonly address: string; readonly port: number }
) & {
  /** Set for `upstream: https` routes: the dialled socket is wrapped in verified TLS. */
  readonly tls?: UpstreamTls | undefined;
};

/** The current connection of one pooled Client (replaced when the Client reconnects). */
export class UpstreamConnection {
  /** "[addr]:port" actually dialled, once connected. */
  address: string | null = null;
  resolveMs = 0;
  connectMs = 0;
  /** Requests already sent on the current connection. */
  requests = 0;
}

/** Implemented by request handlers that want to know the connection they were given. */
export interface UpstreamAware {
  attachUpstream(connection: UpstreamConnection): void;
}

function isUpstreamAware(handler: unknown): handler is UpstreamAware {
  return typeof (handler as Partial<UpstreamAware>).attachUpstream === 'function';
}

/** A Client that tells each request which connection record it belongs to. */
export class TrackedClient extends Client {
  constructor(
    origin: URL,
    opts: Client.Options,
    private readonly connection: UpstreamConnection,
  ) {
    super(origin, opts);
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (isUpstreamAware(handler)) handler.attachUpstream(this.connection);
    return super.dispatch(opts, handler);
  }
}

export function upstreamKey(target: UpstreamTarget): string {
  const key =
    target.kind === 'name' ? `${target.name}:${target.port}` : formatHostPort(target.address, target.port);
  return target.tls === undefined ? key : `${upstreamTlsKey(target.tls)}/${key}`;
}

/** Pools with no connection and nothing queued are closed after this long unused. */
const SWEEP_INTERVAL_MS = 30_000;

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #dataPath: DataPath;
  readonly #log: Logger;
  #sweep: NodeJS.Timeout | undefined;
  #closing: Promise<void> | null = null;
  /** The http.upstream settings the current pools were made with. */
  #settings: HttpConfig['upstream'] | null = null;

  constructor(dataPath: DataPath, log: Logger) {
    this.#dataPath = dataPath;
    this.#log = log;
  }

  start(): void {
    if (this.#sweep !== undefined || this.#closing !== null) return;
    this.#sweep = setInterval(() => this.#sweepIdle(), SWEEP_INTERVAL_MS);
    this.#sweep.unref();
  }

  get size(): number {
    return this.#pools.size;
  }

  /** Sends a request to the target's pool (created on first use). */
  dispatch(
    target: UpstreamTarget,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): void {
    if (this.#closing !== null) throw new Error('upstream pools are closed');
    const settings = this.#dataPath.current().config.http.upstream;
    if (settings !== this.#settings) this.#adopt(settings);
    const key = upstreamKey(target);
    let pool = this.#pools.get(key);
    if (pool === undefined || pool.closed || pool.destroyed) {
      pool = this.#createPool(target, settings);
      this.#pools.set(key, pool);
    }
    pool.dispatch(opts, handler);
  }

  /** Destroys every pool (open backend connections are closed). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweep);
      const pools = [...this.#pools.values()];
      this.#pools.clear();
      await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
    })();
    return this.#closing;
  }

  /**
   * A reload that changes http.upstream retires the pools: they finish what they are doing and close,
   * new requests get pools with the new settings. An unchanged section keeps them (and their warm
   * connections).
   */
  #adopt(settings: HttpConfig['upstream']): void {
    const previous = this.#settings;
    this.#settings = settings;
    if (previous === null || JSON.stringify(previous) === JSON.stringify(settings)) return;
    const retired = [...this.#pools.values()];
    this.#pools.clear();
    for (const pool of retired) pool.close().catch(() => undefined);
    this.#log.info({ pools: retired.length }, 'http.upstream changed: backend pools retired');
  }

  #createPool(target: UpstreamTarget, cfg: HttpConfig['upstream']): Pool {
    const host = target.kind === 'name' ? target.name : `[${target.address}]`;
    const connectFor =
      (record: UpstreamConnection) =>
      (_opts: unknown, callback: (...args: [null, Socket] | [Error, null]) => void): void => {
        this.#connect(target, record).then(
          (socket) => callback(null, socket),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
        );
      };
    return new Pool(`${target.tls === undefined ? 'http' : 'https'}://${host}:${target.port}`, {
      connections: cfg.connections,
      pipelining: 1,
      keepAliveTimeout: cfg.keepAliveTimeoutMs,
      keepAliveMaxTimeout: cfg.keepAliveTimeoutMs,
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: cfg.bodyTimeoutMs,
      factory: (origin, opts) => {
        const record = new UpstreamConnection();
        return new TrackedClient(
          origin,
          { ...(opts as Client.Options), connect: connectFor(record) },
          record,
        );
      },
    });
  }

  #connect(target: UpstreamTarget, record: UpstreamConnection): Promise<Socket> {
    return connectUpstream(this.#dataPath, target, record, this.#log);
  }

  #sweepIdle(): void {
    for (const [key, pool] of this.#pools) {
      const s = pool.stats;
      if (s.connected === 0 && s.pending === 0 && s.running === 0 && s.size === 0) {
        this.#pools.delete(key);
        pool.close().catch(() => undefined);
      }
    }
  }
}

/**
 * One new backend connection: AAAA (cached) → allowlist → staggered dial → (PROXY header) → (TLS).
 * `carry` (client-bound connections only) adds the NAT46 source to the dial and writes the PROXY header
 * before any other byte, ahead of an upstream TLS ClientHello too. Rejects with a ProxyError.
 */
export async function connectUpstream(
  dataPath: DataPath,
  target: UpstreamTarget,
  record: UpstreamConnection,
  log: Logger,
  carry?: ClientSource,
): Promise<Socket> {
  const state = dataPath.current();
  const started = performance.now();
  const addresses =
    target.kind === 'address'
      ? [target.address]
      : (await state.resolver.resolve(target.name, state.policy)).addresses;
  const resolved = performance.now();
  const dialed = await dial({
    addresses,
    port: target.port,
    policy: state.policy,
    connectTimeoutMs: state.config.timeouts.connectMs,
    attemptDelayMs: state.config.timeouts.attemptDelayMs,
    ...carry?.dial,
  });
  record.address = formatHostPort(dialed.address, target.port);
  const header = carry?.header ?? null;
  if (header !== null) dialed.socket.write(header);
  const socket =
    target.tls === undefined
      ? dialed.socket
      : await secureUpstream(dialed.socket, target.tls, {
          address: record.address,
          timeoutMs: state.config.timeouts.connectMs,
        });
  record.resolveMs = round(resolved - started);
  record.connectMs = round(performance.now() - resolved);
  record.requests = 0;
  log.debug({ upstream: record.address, target: upstreamKey(target) }, 'upstream connected');
  return socket;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
