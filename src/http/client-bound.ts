/**
 * Backend connections bound to one client connection, for routes that carry the client's address to
 * the backend in the connection itself: a PROXY protocol header (it describes one TCP connection, and
 * the spec forbids it on connections shared by several clients) or a NAT46 source address (different
 * per client). Such requests never use the shared pools (upstream-pools.ts): each client connection
 * gets its own undici Client per backend (pipelining off, keep-alive within that client connection),
 * dialled through edge46's dialer from the NAT46 source, with the PROXY header written first. They
 * are all closed when the client connection closes.
 */
import type { Dispatcher } from 'undici';
import type { DataPath } from '../accept/data-path.js';
import type { ClientSource } from '../connect/client-source.js';
import { ProxyError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import {
  connectUpstream,
  TrackedClient,
  UpstreamConnection,
  upstreamKey,
  type UpstreamTarget,
} from './upstream-pools.js';

/** True when `carry` must travel on a connection of this client's own (a header, or a NAT46 source). */
export function isClientBound(carry: ClientSource): boolean {
  return carry.header !== null || carry.dial.localAddress !== undefined;
}

export class ClientBoundUpstreams {
  readonly #clients = new Map<string, TrackedClient>();
  #closed = false;

  constructor(
    private readonly dataPath: DataPath,
    private readonly log: Logger,
  ) {}

  /** Backend connections currently held (open or connecting). */
  get size(): number {
    return this.#clients.size;
  }

  /** Sends a request on this client connection's own connection to the target (made on first use). */
  dispatch(
    target: UpstreamTarget,
    carry: ClientSource,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): void {
    if (this.#closed) throw new ProxyError('EDGE_CLIENT_CLOSED', 'client connection closed');
    // The header names the authority (v2): a request for another name to the same backend gets its own.
    const key = `${upstreamKey(target)} ${carry.dial.localAddress ?? ''} ${carry.header?.toString('hex') ?? ''}`;
    let client = this.#clients.get(key);
    if (client === undefined || client.closed || client.destroyed) {
      client = this.#create(target, carry);
      this.#clients.set(key, client);
    }
    client.dispatch(opts, handler);
  }

  /** Closes every backend connection of this client connection (requests still running are aborted). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#clients.values()) client.destroy().catch(() => undefined);
    this.#clients.clear();
  }

  #create(target: UpstreamTarget, carry: ClientSource): TrackedClient {
    const cfg = this.dataPath.current().config.http.upstream;
    const host = target.kind === 'name' ? target.name : `[${target.address}]`;
    const record = new UpstreamConnection();
    const origin = new URL(`${target.tls === undefined ? 'http' : 'https'}://${host}:${target.port}`);
    return new TrackedClient(
      origin,
      {
        pipelining: 1,
        keepAliveTimeout: cfg.keepAliveTimeoutMs,
        keepAliveMaxTimeout: cfg.keepAliveTimeoutMs,
        headersTimeout: cfg.headersTimeoutMs,
        bodyTimeout: cfg.bodyTimeoutMs,
        connect: (_opts, callback) => {
          connectUpstream(this.dataPath, target, record, this.log, carry).then(
            (socket) => callback(null, socket),
            (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
          );
        },
      },
      record,
    );
  }
}
