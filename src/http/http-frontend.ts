/**
 * The server side of an http listener. The listener's net.Server accepts (connection limits, logging
 * and drain stay in accept/); each accepted socket is handed to one node:http Server per listener with
 * `emit('connection')`, so there is no second listening socket. llhttp parses (strict mode: no
 * obs-fold, no CL+TE, no bad chunk sizes); every request is then routed on its own by its Host.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { DataPath, ListenerRuntime } from '../accept/data-path.js';
import type { ConnectionContext } from '../accept/context.js';
import type { Config, HttpConfig, ListenerConfig } from '../config/schema.js';
import { describeOutcome, errnoCode, errorMessage, ProxyError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { PipeHandle } from '../pipe/engine.js';
import type { Termination } from '../tls/termination.js';
import { AccessRecord, type RequestSink } from './access-log.js';
import { ClientBoundUpstreams } from './client-bound.js';
import { rawErrorResponse } from './error-response.js';
import { ProxyExchange, type ExchangeHost } from './proxy-exchange.js';
import type { RouteContext } from './route-request.js';
import { TrustedProxies } from './trusted-proxies.js';
import { proxyUpgrade, refuse } from './upgrade.js';
import type { UpstreamPools } from './upstream-pools.js';

interface HttpConnection {
  readonly ctx: ConnectionContext;
  readonly runtime: ListenerRuntime;
  readonly track: (pipe: PipeHandle) => void;
  readonly sink: RequestSink;
  readonly exchanges: Set<ProxyExchange>;
  /** Backend connections of this client connection's own (PROXY header, NAT46 source). */
  readonly bound: ClientBoundUpstreams;
  requests: number;
  upgrade: Promise<void> | null;
  /** TLS terminated by edge46 (a terminate route on a tls listener); undefined on http listeners. */
  readonly termination: Termination | undefined;
}

/** Node checks header and request timeouts on an interval; keep it well below the timeouts. */
function checkingInterval(http: HttpConfig): number {
  const shortest = Math.min(http.headersTimeoutMs, http.requestTimeoutMs || Infinity);
  return Math.max(25, Math.min(1_000, Math.floor(shortest / 4)));
}

/** Public properties node's typings omit. */
type HalfOpenServer = Server & { httpAllowHalfOpen: boolean; maxHeaderSize: number };

export class HttpFrontend {
  readonly #server: HalfOpenServer;
  readonly #connections = new WeakMap<Socket, HttpConnection>();
  readonly #upstreams: UpstreamPools;
  /** The http section the server's limits were last set from (a reload may replace it). */
  #http: HttpConfig;
  #trusted: { config: Config; list: TrustedProxies } | null = null;
  #draining = false;

  constructor(
    listener: ListenerConfig,
    private readonly dataPath: DataPath,
    private readonly log: Logger,
  ) {
    if (dataPath.upstreams === undefined)
      throw new Error(`listener ${listener.name}: http listeners need the data path's upstream pools`);
    this.#upstreams = dataPath.upstreams;
    const http = dataPath.current().config.http;
    this.#http = http;
    this.#server = createServer({
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      maxHeaderSize: http.maxHeaderSize,
      connectionsCheckingInterval: checkingInterval(http),
      // edge46 answers a missing Host itself (400 with a body and a log line).
      requireHostHeader: false,
      insecureHTTPParser: false,
      noDelay: true,
    }) as HalfOpenServer;
    this.#server.maxRequestsPerSocket = http.maxRequestsPerConnection;
    // A client that half-closes after its request still gets the response (then the socket ends).
    this.#server.httpAllowHalfOpen = true;
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.#onRequest(req, res, false),
    );
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      this.#onRequest(req, res, true),
    );
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#onUpgrade(req, socket, head),
    );
    this.#server.on('connect', (req: IncomingMessage, socket: Socket) => this.#onConnectMethod(req, socket));
    this.#server.on('clientError', (err: Error, socket: Socket) => this.#onClientError(err, socket));
    // Node starts its header/request timeout checks on 'listening'; this server never listens (the
    // listener's net.Server hands it sockets), so start them the same way.
    this.#server.emit('listening');
  }

  /** Serves one accepted socket; resolves once it is closed (after an upgraded pipe has ended). */
  handle(
    socket: Socket,
    ctx: ConnectionContext,
    runtime: ListenerRuntime,
    track: (pipe: PipeHandle) => void,
    termination?: Termination,
  ): Promise<void> {
    this.#applyLimits(this.dataPath.current().config.http);
    const sink: RequestSink = { log: ctx.log, listener: ctx.listener, metrics: this.dataPath.metrics };
    const conn: HttpConnection = {
      ctx,
      runtime,
      track,
      sink,
      exchanges: new Set(),
      bound: new ClientBoundUpstreams(this.dataPath, ctx.log),
      requests: 0,
      upgrade: null,
      termination,
    };
    this.#connections.set(socket, conn);
    return new Promise<void>((resolve) => {
      socket.once('close', () => {
        const gone = new ProxyError('EDGE_CLIENT_CLOSED', 'client connection closed');
        for (const exchange of conn.exchanges) exchange.clientGone(gone);
        conn.bound.close();
        const finish = (): void => {
          this.#connectionClosed(socket, conn);
          resolve();
        };
        if (conn.upgrade === null) finish();
        else void conn.upgrade.finally(finish);
      });
      this.#server.emit('connection', socket);
      // Accepted with pauseOnConnect: nothing is read until node's parser owns the socket.
      socket.resume();
    });
  }

  /** Shutdown: idle keep-alive connections close now, busy ones after their current response. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#server.closeIdleConnections();
    // Stops node's timeout checker; the drain deadline bounds what is still running.
    this.#server.close(() => undefined);
  }

  /** A reload that keeps this listener may change the limits; node reads them per connection/request. */
  #applyLimits(http: HttpConfig): void {
    if (http === this.#http) return;
    this.#http = http;
    const server = this.#server;
    server.headersTimeout = http.headersTimeoutMs;
    server.requestTimeout = http.requestTimeoutMs;
    server.keepAliveTimeout = http.keepAliveTimeoutMs;
    server.maxRequestsPerSocket = http.maxRequestsPerConnection;
    server.maxHeaderSize = http.maxHeaderSize;
  }

  #connectionClosed(socket: Socket, conn: HttpConnection): void {
    const { ctx } = conn;
    ctx.total();
    const bytesIn = socket.bytesRead;
    const bytesOut = socket.bytesWritten;
    ctx.log.debug(
      {
        requests: conn.requests,
        bytesIn,
        bytesOut,
        durations: { ...ctx.timings },
        upgraded: conn.upgrade !== null,
      },
      'connection closed',
    );
    this.dataPath.metrics?.connectionClosed({
      listener: ctx.listener,
      outcome: 'ok',
      bytesToBackend: bytesIn,
      bytesToClient: bytesOut,
      timings: { total: ctx.timings.total },
    });
  }

  #routeContext(conn: HttpConnection): RouteContext {
    const state = this.dataPath.current();
    if (this.#trusted?.config !== state.config) {
      this.#trusted = { config: state.config, list: TrustedProxies.create(state.config.http.trustedProxies) };
    }
    return {
      listener: conn.runtime,
      state,
      client: conn.ctx.client,
      clientAddress: conn.ctx.clientAddress,
      trusted: this.#trusted.list,
      termination: conn.termination,
    };
  }

  #onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const conn = this.#connections.get(req.socket);
    if (conn === undefined) {
      res.destroy();
      return;
    }
    conn.requests++;
    const route = this.#routeContext(conn);
    const host: ExchangeHost = {
      route,
      sink: conn.sink,
      upstreams: this.#upstreams,
      bound: conn.bound,
      http: route.state.config.http,
      draining: () => this.#draining,
      done: (exchange) => {
        conn.exchanges.delete(exchange);
        if (this.#draining) this.#server.closeIdleConnections();
      },
    };
    const exchange = new ProxyExchange(req, res, host, expectContinue);
    conn.exchanges.add(exchange);
    exchange.start();
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const conn = this.#connections.get(socket);
    if (conn === undefined) {
      socket.destroy();
      return;
    }
    conn.requests++;
    const route = this.#routeContext(conn);
    conn.upgrade = proxyUpgrade(req, socket, head, {
      route,
      sink: conn.sink,
      headersTimeoutMs: route.state.config.http.upstream.headersTimeoutMs,
      track: conn.track,
    }).catch((err: unknown) => conn.ctx.log.error({ err }, 'upgrade handler failed'));
  }

  #onConnectMethod(req: IncomingMessage, socket: Socket): void {
    const conn = this.#connections.get(socket);
    if (conn !== undefined) conn.requests++;
    const err = new ProxyError(
      'EDGE_METHOD_NOT_ALLOWED',
      'CONNECT is not supported (edge46 is a reverse proxy)',
    );
    this.#refuseRaw(socket, conn, err, req);
  }

  #onClientError(err: Error, socket: Socket): void {
    const conn = this.#connections.get(socket);
    const error = clientError(err, this.#http);
    if (error === null) {
      // The connection broke (reset, closed mid-write): nothing to answer; exchanges see the close.
      socket.destroy();
      return;
    }
    let responding = false;
    let answered = false;
    for (const exchange of conn?.exchanges ?? []) {
      responding ||= exchange.responding;
      answered = true;
      exchange.clientGone(error);
    }
    if (responding) {
      // Another response is on the wire: a 400 now would corrupt it.
      socket.destroy();
      return;
    }
    if (answered) {
      refuse(socket, rawErrorResponse(describeOutcome(error)));
      return;
    }
    this.#refuseRaw(socket, conn, error, null);
  }

  /** Answers a socket no exchange owns with an error response, and writes its access line. */
  #refuseRaw(
    socket: Socket,
    conn: HttpConnection | undefined,
    err: ProxyError,
    req: IncomingMessage | null,
  ): void {
    const d = describeOutcome(err);
    const record = new AccessRecord();
    record.status = d.httpStatus;
    if (req !== null) {
      record.method = req.method;
      record.path = req.url;
    }
    refuse(socket, rawErrorResponse(d));
    record.write(conn?.sink ?? { log: this.log, listener: '', metrics: undefined }, err);
  }
}

/** The ProxyError for a parse error or timeout on the client side; null when the socket just broke. */
function clientError(err: Error, http: HttpConfig): ProxyError | null {
  const code = errnoCode(err) ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new ProxyError(
      'EDGE_HEADERS_TOO_LARGE',
      `request head larger than ${http.maxHeaderSize} bytes`,
      err,
    );
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new ProxyError(
      'EDGE_REQUEST_TIMEOUT',
      `request not received in time (head: ${http.headersTimeoutMs} ms, whole request: ${http.requestTimeoutMs} ms)`,
      err,
    );
  }
  if (code.startsWith('HPE_')) {
    const reason = (err as Error & { reason?: unknown }).reason;
    return new ProxyError(
      'EDGE_BAD_REQUEST',
      `malformed request (${code}: ${typeof reason === 'string' ? reason : errorMessage(err)})`,
      err,
    );
  }
  return null;
}

/** Answer for a client refused before any request was read: the listener is at maxConnections. */
export function refuseOverCapacity(socket: Socket, maxConnections: number): void {
  socket.on('error', () => {});
  const err = new ProxyError('EDGE_OVER_CAPACITY', `listener at maxConnections (${maxConnections})`);
  refuse(socket, rawErrorResponse(describeOutcome(err)));
}
