/**
 * HTTP/2 from clients on terminated connections (ALPN h2). One node:http2 server that never listens is
 * handed each TLSSocket; every stream becomes the same ProxyExchange an HTTP/1.1 request does (route by
 * its own :authority, forwarding headers, undici pools to the backend over HTTP/1.1, error mapping,
 * access log). Limits map onto HTTP/2: maxHeaderSize → SETTINGS_MAX_HEADER_LIST_SIZE,
 * maxRequestsPerConnection → GOAWAY after that many streams, keepAliveTimeoutMs → GOAWAY on an idle
 * session, requestTimeoutMs → 408 for a request body that does not finish in time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { ConnectionContext } from '../accept/context.js';
import type { DataPath, ListenerRuntime } from '../accept/data-path.js';
import type { Config } from '../config/schema.js';
import { ProxyError } from '../errors.js';
import type { RequestSink } from '../http/access-log.js';
import { ProxyExchange, type ExchangeHost } from '../http/proxy-exchange.js';
import { TrustedProxies } from '../http/trusted-proxies.js';
import type { UpstreamPools } from '../http/upstream-pools.js';
import type { Termination } from './termination.js';

interface Http2Connection {
  readonly ctx: ConnectionContext;
  readonly runtime: ListenerRuntime;
  readonly termination: Termination;
  readonly sink: RequestSink;
  readonly session: ServerHttp2Session;
  readonly exchanges: Set<ProxyExchange>;
  requests: number;
}

/** Streams a client may open at once (RFC 9113 §6.5.2 recommends no fewer than 100). */
const MAX_CONCURRENT_STREAMS = 128;

export class Http2Frontend {
  readonly #server: Http2Server;
  readonly #sessions = new Map<ServerHttp2Session, Http2Connection>();
  readonly #upstreams: UpstreamPools;
  #trusted: { config: Config; list: TrustedProxies } | null = null;
  #draining = false;

  constructor(private readonly dataPath: DataPath) {
    if (dataPath.upstreams === undefined) throw new Error('HTTP/2 termination needs the upstream pools');
    this.#upstreams = dataPath.upstreams;
    const http = dataPath.current().config.http;
    this.#server = createServer({
      settings: {
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: http.maxHeaderSize,
        enablePush: false,
      },
      maxSessionRejectedStreams: 100,
    });
    this.#server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) =>
      this.#onRequest(req, res, false),
    );
    this.#server.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) =>
      this.#onRequest(req, res, true),
    );
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Serves one terminated connection that negotiated h2; resolves once it is closed. */
  handle(
    socket: TLSSocket,
    ctx: ConnectionContext,
    runtime: ListenerRuntime,
    termination: Termination,
  ): Promise<void> {
    let session: ServerHttp2Session | undefined;
    const onSession = (s: ServerHttp2Session): void => {
      session = s;
    };
    // node:http2 makes the session synchronously inside the 'connection' handler.
    this.#server.once('session', onSession);
    this.#server.emit('connection', socket);
    this.#server.off('session', onSession);
    if (session === undefined) {
      socket.destroy();
      return Promise.resolve();
    }
    const conn: Http2Connection = {
      ctx,
      runtime,
      termination,
      sink: { log: ctx.log, listener: ctx.listener, metrics: this.dataPath.metrics },
      session,
      exchanges: new Set(),
      requests: 0,
    };
    this.#sessions.set(session, conn);
    session.on('error', (err) => ctx.log.debug({ err }, 'HTTP/2 session error'));
    const keepAliveMs = this.dataPath.current().config.http.keepAliveTimeoutMs;
    if (keepAliveMs > 0) {
      session.setTimeout(keepAliveMs, () => {
        if (conn.exchanges.size === 0) session?.close();
      });
    }
    if (this.#draining) session.close();
    return new Promise<void>((resolve) => {
      socket.once('close', () => {
        const gone = new ProxyError('EDGE_CLIENT_CLOSED', 'client connection closed');
        for (const exchange of conn.exchanges) exchange.clientGone(gone);
        this.#sessions.delete(conn.session);
        this.#connectionClosed(socket, conn);
        resolve();
      });
    });
  }

  /** Shutdown: GOAWAY on every session; open streams finish, no new ones start. */
  drain(): void {
    this.#draining = true;
    for (const session of this.#sessions.keys()) session.close();
  }

  #connectionClosed(socket: TLSSocket, conn: Http2Connection): void {
    const { ctx } = conn;
    ctx.total();
    const bytesIn = socket.bytesRead;
    const bytesOut = socket.bytesWritten;
    ctx.log.debug(
      { requests: conn.requests, bytesIn, bytesOut, durations: { ...ctx.timings }, protocol: 'h2' },
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

  #onRequest(req: Http2ServerRequest, res: Http2ServerResponse, expectContinue: boolean): void {
    const conn = this.#sessions.get(req.stream.session as ServerHttp2Session);
    if (conn === undefined) {
      req.stream.close();
      return;
    }
    conn.requests++;
    const state = this.dataPath.current();
    if (this.#trusted?.config !== state.config) {
      this.#trusted = { config: state.config, list: TrustedProxies.create(state.config.http.trustedProxies) };
    }
    const http = state.config.http;
    let timer: NodeJS.Timeout | undefined;
    const host: ExchangeHost = {
      route: {
        listener: conn.runtime,
        state,
        client: conn.ctx.client,
        trusted: this.#trusted.list,
        termination: conn.termination,
      },
      sink: conn.sink,
      upstreams: this.#upstreams,
      http,
      draining: () => this.#draining,
      done: (exchange) => {
        clearTimeout(timer);
        conn.exchanges.delete(exchange);
      },
    };
    // The compat request/response stand in for node:http's (http2-compat.ts covers the differences).
    const exchange = new ProxyExchange(
      req as unknown as IncomingMessage,
      res as unknown as ServerResponse,
      host,
      expectContinue,
    );
    conn.exchanges.add(exchange);
    const max = http.maxRequestsPerConnection;
    // GOAWAY: the streams already open finish, the client opens new ones on a new connection.
    if (max > 0 && conn.requests >= max) conn.session.close();
    if (req.method === 'CONNECT') {
      exchange.fail(
        new ProxyError('EDGE_METHOD_NOT_ALLOWED', 'CONNECT is not supported (edge46 is a reverse proxy)'),
      );
      return;
    }
    if (!req.stream.endAfterHeaders && http.requestTimeoutMs > 0) {
      timer = setTimeout(() => {
        exchange.fail(
          new ProxyError(
            'EDGE_REQUEST_TIMEOUT',
            `request body not received within ${http.requestTimeoutMs} ms`,
          ),
        );
      }, http.requestTimeoutMs);
      req.once('end', () => clearTimeout(timer));
    }
    exchange.start();
  }
}
