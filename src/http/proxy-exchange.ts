/**
 * One proxied HTTP request: route by Host → resolve → undici pool → response streamed back. The
 * exchange is the undici dispatch handler itself, so both bodies stream with backpressure and nothing
 * is buffered whole: the client request is undici's body stream (undici pauses it when the backend
 * socket is full), and a response chunk the client cannot take yet pauses undici until 'drain'.
 *
 * Failure before the response head: an error response (status from describeOutcome). Failure after
 * it: the client connection is reset, so a truncated body never looks complete.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ClientSource } from '../connect/client-source.js';
import type { HttpConfig } from '../config/schema.js';
import { describeOutcome, ProxyError } from '../errors.js';
import { AccessRecord, type RequestSink } from './access-log.js';
import { errorBody } from './error-response.js';
import { clientResponseHeaders, requestHasBody, upstreamRequestHeaders } from './headers.js';
import { resolveTarget, routeRequest, type RouteContext } from './route-request.js';
import { requestBodyFollows, resetExchange, writeResponseHead } from '../tls/http2-compat.js';
import type { ClientBoundUpstreams } from './client-bound.js';
import { upstreamError } from './upstream-error.js';
import type { UpstreamAware, UpstreamConnection, UpstreamPools, UpstreamTarget } from './upstream-pools.js';

/** RFC 9110 §9.2.2 idempotent methods: safe to send again when nothing came back. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** What an exchange needs from its connection and listener. */
export interface ExchangeHost {
  readonly route: RouteContext;
  readonly sink: RequestSink;
  readonly upstreams: UpstreamPools;
  /** This client connection's own backend connections (routes that carry the client's address). */
  readonly bound?: ClientBoundUpstreams | undefined;
  readonly http: HttpConfig;
  draining(): boolean;
  /** Called once when the exchange has ended (logged), whatever the outcome. */
  done(exchange: ProxyExchange): void;
}

export class ProxyExchange implements Dispatcher.DispatchHandler, UpstreamAware {
  readonly record = new AccessRecord();
  #abortUpstream: ((err?: Error) => void) | null = null;
  #connection: UpstreamConnection | null = null;
  #resume: (() => void) | null = null;
  #responding = false;
  #finished = false;
  #failure: ProxyError | null = null;
  #dispatched: {
    target: UpstreamTarget;
    carry: ClientSource | null;
    opts: Dispatcher.DispatchOptions;
  } | null = null;
  #retried = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly host: ExchangeHost,
    private readonly expectContinue: boolean,
  ) {
    this.record.method = req.method;
    this.record.path = req.url;
  }

  /** A response head has gone out and the body is still flowing. */
  get responding(): boolean {
    return this.#responding && !this.#finished;
  }

  start(): void {
    this.res.on('close', this.#onResponseClose);
    this.res.on('finish', this.#onResponseFinish);
    this.#run().catch((err: unknown) => this.fail(err));
  }

  async #run(): Promise<void> {
    const routed = routeRequest(this.req, this.host.route, this.record);
    await resolveTarget(routed.target, this.host.route.state, this.record);
    // node's parser calls back per event, with a microtask checkpoint after each: let it finish the
    // bytes already read, so that bad framing right behind the head (a bad chunk size in the same
    // segment) stops the request before anything is sent upstream.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#finished) return;
    const headers = upstreamRequestHeaders(this.req.rawHeaders, {
      authority: routed.authority,
      forwarding: routed.forwarding,
    });
    this.record.upstream = this.record.target;
    this.#dispatched = {
      target: routed.target,
      carry: routed.carry,
      opts: {
        path: routed.path,
        method: this.req.method ?? 'GET',
        headers,
        body: requestBodyFollows(this.req, requestHasBody) ? this.req : null,
      },
    };
    this.#send(this.#dispatched);
  }

  /** Pooled, or on this client connection's own backend connection when the route carries the client. */
  #send(d: { target: UpstreamTarget; carry: ClientSource | null; opts: Dispatcher.DispatchOptions }): void {
    if (d.carry === null) return this.host.upstreams.dispatch(d.target, d.opts, this);
    if (this.host.bound === undefined) {
      throw new ProxyError('EDGE_INTERNAL', 'this connection cannot carry the client address to the backend');
    }
    this.host.bound.dispatch(d.target, d.carry, d.opts, this);
  }

  /**
   * A pooled connection the backend closed while the request was being sent (the keep-alive race:
   * its idle timeout fired first) fails before any answer. An idempotent request without a body is
   * then sent once more, on another connection (as nginx's proxy_next_upstream does).
   */
  #retryable(err: Error): boolean {
    const d = this.#dispatched;
    if (d === null || this.#retried || this.#responding || this.record.reused !== true) return false;
    if (d.opts.body !== null || !IDEMPOTENT.has(d.opts.method)) return false;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
  }

  /** Ends the exchange with `err` (idempotent): error response, or a reset once the response started. */
  fail(err: unknown): void {
    if (this.#finished) return;
    const error = upstreamError(err, {
      upstream: this.record.upstream ?? this.record.target ?? 'backend',
      responding: this.#responding,
      clientAborted: !this.req.complete && this.req.destroyed,
      headersTimeoutMs: this.host.http.upstream.headersTimeoutMs,
      bodyTimeoutMs: this.host.http.upstream.bodyTimeoutMs,
    });
    this.#finished = true;
    this.#failure = error;
    this.#abortUpstream?.(error);
    const d = describeOutcome(error);
    const res = this.res;
    if (!this.#responding && !res.headersSent && res.writable && !res.destroyed) {
      this.record.status = d.httpStatus;
      const body = errorBody(d);
      // An unread request body would be read as the next request (or stall it), and after a
      // malformed request (400) nothing more on this connection is trusted: close instead.
      if (d.httpStatus === 400 || (requestBodyFollows(this.req, requestHasBody) && !this.req.complete)) {
        res.shouldKeepAlive = false;
      }
      res.writeHead(d.httpStatus, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    } else {
      if (!this.#responding) this.record.status = d.httpStatus;
      resetExchange(this.req, res);
    }
    this.#end(error);
  }

  /** The client connection broke (closed, or a parse error on it): no response is written here. */
  clientGone(err: ProxyError): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#failure = err;
    this.#abortUpstream?.(err);
    if (!this.#responding) this.record.status = describeOutcome(err).httpStatus;
    this.#end(err);
  }

  #end(failure: ProxyError | null): void {
    this.res.off('drain', this.#onDrain);
    this.record.write(this.host.sink, failure);
    this.host.done(this);
  }

  readonly #onResponseClose = (): void => {
    if (!this.res.writableFinished) {
      this.clientGone(
        new ProxyError('EDGE_CLIENT_CLOSED', 'client closed the connection before the response'),
      );
    }
  };

  readonly #onResponseFinish = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#end(null);
  };

  readonly #onDrain = (): void => {
    const resume = this.#resume;
    if (resume !== null) resume();
  };

  // undici dispatch handler (the raw-header API: headers and trailers pass through untouched).

  attachUpstream(connection: UpstreamConnection): void {
    this.#connection = connection;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abortUpstream = abort;
    if (this.#failure !== null) return abort(this.#failure);
    const c = this.#connection;
    if (c !== null) {
      this.record.upstream = c.address ?? this.record.upstream;
      this.record.reused = c.requests > 0;
      if (c.requests === 0) this.record.durations.connect = c.connectMs;
      c.requests++;
    }
    if (this.expectContinue && !this.res.headersSent) this.res.writeContinue();
  }

  onBodySent(chunk: unknown): void {
    this.record.bytesIn += typeof chunk === 'number' ? chunk : Buffer.isBuffer(chunk) ? chunk.length : 0;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.#finished) return false;
    // 1xx other than 101 (undici handles 100 itself): informational, not forwarded.
    if (statusCode < 200) return true;
    this.record.durations.ttfb = this.record.elapsed();
    this.record.status = statusCode;
    this.#resume = resume;
    const res = this.res;
    if (this.host.draining()) res.shouldKeepAlive = false;
    try {
      writeResponseHead(
        res,
        statusCode,
        statusText || STATUS_CODES[statusCode] || 'Unknown',
        clientResponseHeaders(rawHeaders),
      );
    } catch (err) {
      this.fail(
        new ProxyError('EDGE_UPSTREAM_BAD_RESPONSE', `response head not forwardable: ${String(err)}`, err),
      );
      return false;
    }
    this.#responding = true;
    res.on('drain', this.#onDrain);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#finished) return false;
    this.record.bytesOut += chunk.length;
    return this.res.write(chunk);
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    if (this.#finished) return;
    if (trailers !== null && trailers.length > 0) {
      const list = clientResponseHeaders(trailers);
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < list.length; i += 2) pairs.push([list[i] ?? '', list[i + 1] ?? '']);
      if (pairs.length > 0) this.res.addTrailers(pairs);
    }
    this.res.end();
  }

  onError(err: Error): void {
    if (this.#finished) return;
    const d = this.#dispatched;
    if (d !== null && this.#retryable(err)) {
      this.#retried = true;
      this.record.retried = true;
      this.#abortUpstream = null;
      this.#connection = null;
      try {
        this.#send(d);
      } catch (retryErr) {
        this.fail(retryErr);
      }
      return;
    }
    this.fail(err);
  }
}
