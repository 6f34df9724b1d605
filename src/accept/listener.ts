/**
 * One net.Server per configured listener: accepts, enforces maxConnections, creates the per-connection
 * context and child logger, and hands the socket to the protocol's handler.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { HttpFrontend, refuseOverCapacity } from '../http/http-frontend.js';
import type { Logger } from '../observe/logger.js';
import type { PipeHandle } from '../pipe/engine.js';
import { formatHostPort, normalizeClientAddress, parseHostPort } from './address.js';
import { identifyConnection } from './client-address.js';
import { nextConnectionId } from './context.js';
import type { DataPath, ListenerRuntime } from './data-path.js';
import { handleTlsConnection } from './tls-connection.js';

interface Active {
  readonly socket: Socket;
  pipe: PipeHandle | null;
}

export class ProxyListener {
  private readonly server: Server;
  private readonly active = new Set<Active>();
  private readonly idle = new Set<() => void>();
  private boundPort = 0;
  /** The HTTP server side of an http listener; null for tls. */
  private readonly http: HttpFrontend | null;

  constructor(
    /** Replaced by a reload that keeps this listener (same address and protocol); read per accept. */
    public config: ListenerConfig,
    private readonly dataPath: DataPath,
    private readonly log: Logger,
  ) {
    // allowHalfOpen: a client FIN must only end one direction (TLS close_notify then FIN, with the
    // server's reply still on its way). pauseOnConnect: nothing is read before the sniffer is ready.
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) =>
      this.accept(socket),
    );
    this.server.on('error', (err) => this.log.error({ err, listener: config.name }, 'listener error'));
    this.http = config.protocol === 'http' ? new HttpFrontend(config, dataPath, log) : null;
  }

  get connections(): number {
    return this.active.size;
  }

  get address(): AddressInfo | null {
    const address = this.server.address();
    return typeof address === 'object' ? address : null;
  }

  async start(): Promise<AddressInfo> {
    const address = parseHostPort(this.config.address);
    if (address === null) throw new Error(`listener ${this.config.name}: bad address ${this.config.address}`);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(
          new Error(`listener ${this.config.name}: cannot listen on ${this.config.address}: ${err.message}`, {
            cause: err,
          }),
        );
      this.server.once('error', onError);
      // ipv6Only false on "[::]" gives the dual-stack socket the brief asks for.
      this.server.listen({ host: address.host, port: address.port, ipv6Only: false, backlog: 1024 }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const bound = this.address;
    if (bound === null) throw new Error(`listener ${this.config.name}: no address after listen`);
    this.boundPort = bound.port;
    this.log.info(
      {
        listener: this.config.name,
        protocol: this.config.protocol,
        address: formatHostPort(bound.address, bound.port),
      },
      'listening',
    );
    return bound;
  }

  /**
   * Stops accepting; open connections continue. Resolves once the listening socket is closed (new
   * connections are refused from then on), not when the last connection ends: net.Server's close
   * callback waits for every connection, which would make a drain deadline unreachable.
   */
  stopAccepting(): Promise<void> {
    this.http?.drain();
    if (this.server.listening) this.server.close();
    return Promise.resolve();
  }

  /** Bytes moved so far by this listener's open pipes (metrics read it at scrape time). */
  liveBytes(): { toBackend: number; toClient: number } {
    let toBackend = 0;
    let toClient = 0;
    for (const entry of this.active) {
      if (entry.pipe === null) continue;
      const bytes = entry.pipe.bytes();
      toBackend += bytes.toBackend;
      toClient += bytes.toClient;
    }
    return { toBackend, toClient };
  }

  /** Resolves once no connection is open (or at once when none is). */
  whenIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  /** Closes every open connection with a reset (drain deadline passed). */
  abortAll(): void {
    for (const entry of this.active) {
      if (entry.pipe !== null) entry.pipe.abort();
      else entry.socket.destroy();
    }
  }

  private accept(socket: Socket): void {
    const client = normalizeClientAddress(socket.remoteAddress);
    if (this.active.size >= this.config.maxConnections) {
      this.log.warn(
        { listener: this.config.name, client, outcome: 'overload', code: 'EDGE_OVER_CAPACITY' },
        'connection refused: maxConnections reached',
      );
      if (this.http !== null) {
        refuseOverCapacity(socket, this.config.maxConnections); // 503, then close
      } else {
        socket.on('error', () => {});
        socket.destroy();
      }
      this.dataPath.metrics?.connectionClosed({
        listener: this.config.name,
        outcome: 'overload',
        code: 'EDGE_OVER_CAPACITY',
        reason: 'maxConnections reached',
        bytesToBackend: 0,
        bytesToClient: 0,
        timings: {},
      });
      return;
    }
    const id = nextConnectionId();
    const entry: Active = { socket, pipe: null };
    this.active.add(entry);
    const runtime: ListenerRuntime = { config: this.config, port: this.boundPort };
    // A finished pipe leaves liveBytes() before its totals reach the metrics (reactions run in order).
    const track = (pipe: PipeHandle): void => {
      entry.pipe = pipe;
      void pipe.done.then(() => (entry.pipe = null));
    };
    // The client is known once a PROXY header (acceptProxyProtocol) has been read; null: refused, logged.
    identifyConnection(socket, id, runtime.config, this.log)
      .then((ctx) => {
        if (ctx === null) return undefined;
        if (this.http !== null) return this.http.handle(socket, ctx, runtime, track);
        return handleTlsConnection(socket, ctx, runtime, this.dataPath, track);
      })
      .catch((err: unknown) =>
        this.log.error({ err, conn: id, listener: runtime.config.name }, 'connection handler failed'),
      )
      .finally(() => {
        this.active.delete(entry);
        if (this.active.size === 0) {
          for (const resolve of this.idle) resolve();
          this.idle.clear();
        }
      });
  }
}
