/**
 * Upgrade requests (WebSocket and others): routed like any request, then sent on a dedicated backend
 * connection from the dialer (never a pooled one; from the NAT46 source and after the PROXY header
 * when the route carries the client's address). A 101 answer hands both raw sockets to the pipe
 * engine (the 101 head and any bytes either side already sent travel as the pipe's heads); any other
 * answer is relayed with `Connection: close` and the connection ends after it.
 */
import { request, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { formatHostPort } from '../accept/address.js';
import { dial } from '../connect/dialer.js';
import { describeOutcome, ProxyError } from '../errors.js';
import type { PipeEnd, PipeHandle, PipeResult } from '../pipe/engine.js';
import { secureUpstream } from '../tls/upstream-tls.js';
import { AccessRecord, round, type RequestSink } from './access-log.js';
import { rawErrorResponse } from './error-response.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { resolveTarget, routeRequest, type RouteContext } from './route-request.js';

export interface UpgradeHost {
  readonly route: RouteContext;
  readonly sink: RequestSink;
  /** Response head timeout (http.upstream.headersTimeoutMs). */
  readonly headersTimeoutMs: number;
  track(pipe: PipeHandle): void;
}

type BackendAnswer =
  | {
      readonly kind: 'upgrade';
      readonly res: IncomingMessage;
      readonly socket: Socket;
      readonly head: Buffer;
    }
  | { readonly kind: 'response'; readonly res: IncomingMessage };

const END_FAILURE: Record<Exclude<PipeEnd, 'done'>, (r: PipeResult) => ProxyError> = {
  idle: () => new ProxyError('EDGE_IDLE_TIMEOUT', 'upgraded connection idle'),
  'client-reset': () => new ProxyError('EDGE_CLIENT_RESET', 'client reset the upgraded connection'),
  'backend-reset': () => new ProxyError('EDGE_BACKEND_RESET', 'backend reset the upgraded connection'),
  aborted: () => new ProxyError('EDGE_SHUTTING_DOWN', 'upgraded connection aborted at shutdown'),
  error: (r) =>
    new ProxyError('EDGE_BACKEND_RESET', `upgraded connection failed: ${String(r.error)}`, r.error),
};

/** Bound on lingering after an error response, so a client that never closes cannot hold the socket. */
const LINGER_MS = 2_000;

export async function proxyUpgrade(
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  host: UpgradeHost,
): Promise<void> {
  const record = new AccessRecord();
  record.method = req.method;
  record.path = req.url;
  record.upgrade = req.headers.upgrade;
  const swallow = (): void => {};
  client.on('error', swallow);
  const abort = new AbortController();
  const onClientClose = (): void =>
    abort.abort(new ProxyError('EDGE_CLIENT_CLOSED', 'client went away during the upgrade'));
  client.once('close', onClientClose);
  let backend: Socket | null = null;
  let answered = false;
  try {
    const routed = routeRequest(req, host.route, record);
    const state = host.route.state;
    const addresses = await resolveTarget(routed.target, state, record);
    if (abort.signal.aborted) throw abort.signal.reason;
    const dialStarted = performance.now();
    const dialed = await dial({
      addresses,
      port: routed.target.port,
      policy: state.policy,
      connectTimeoutMs: state.config.timeouts.connectMs,
      attemptDelayMs: state.config.timeouts.attemptDelayMs,
      signal: abort.signal,
      ...routed.carry?.dial,
    });
    backend = dialed.socket;
    record.upstream = formatHostPort(dialed.address, routed.target.port);
    // The PROXY header precedes every other byte (an upstream TLS ClientHello too).
    const proxyHeader = routed.carry?.header ?? null;
    if (proxyHeader !== null) backend.write(proxyHeader);
    if (routed.target.tls !== undefined) {
      backend = await secureUpstream(dialed.socket, routed.target.tls, {
        address: record.upstream,
        timeoutMs: state.config.timeouts.connectMs,
      });
    }
    record.durations.connect = round(performance.now() - dialStarted);
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      authority: routed.authority,
      forwarding: routed.forwarding,
      upgrade: req.headers.upgrade ?? '',
    });
    const answer = await sendUpgrade(backend, req.method ?? 'GET', routed.path, headers, {
      timeoutMs: host.headersTimeoutMs,
      upstream: record.upstream,
      signal: abort.signal,
    });
    record.durations.ttfb = record.elapsed();
    record.status = answer.res.statusCode ?? 0;
    answered = true;
    client.off('close', onClientClose);
    if (answer.kind === 'response') {
      await relayResponse(answer.res, client, record);
      record.write(host.sink, null);
      return;
    }
    const responseHead = serializeHead(
      101,
      answer.res.statusMessage ?? '',
      clientResponseHeaders(answer.res.rawHeaders, { upgrade: true }),
    );
    client.off('error', swallow);
    const pipe = state.pipe.start(client, answer.socket, {
      clientHead: head,
      backendHead: Buffer.concat([responseHead, answer.head]),
      idleTimeoutMs: state.config.timeouts.idleMs,
    });
    host.track(pipe);
    const result = await pipe.done;
    record.bytesIn = result.bytesToBackend;
    record.bytesOut = result.bytesToClient - responseHead.length;
    record.write(host.sink, result.end === 'done' ? null : END_FAILURE[result.end](result));
  } catch (err) {
    client.off('close', onClientClose);
    backend?.destroy();
    if (answered) {
      client.destroy();
    } else {
      const d = describeOutcome(err);
      record.status = d.httpStatus;
      refuse(client, rawErrorResponse(d));
    }
    record.write(host.sink, err);
  }
}

/** Writes the upgrade request on `socket` and waits for the backend's answer head. */
function sendUpgrade(
  socket: Socket,
  method: string,
  path: string,
  headers: string[],
  opts: { timeoutMs: number; upstream: string; signal: AbortSignal },
): Promise<BackendAnswer> {
  return new Promise<BackendAnswer>((resolve, reject) => {
    const req = request({ createConnection: () => socket, method, path, headers, setHost: false });
    const timer = setTimeout(() => {
      fail(
        new ProxyError(
          'EDGE_UPSTREAM_TIMEOUT',
          `no response head from ${opts.upstream} within ${opts.timeoutMs} ms`,
        ),
      );
    }, opts.timeoutMs);
    const onAbort = (): void => fail(opts.signal.reason);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
    };
    function fail(err: unknown): void {
      settle();
      req.destroy();
      socket.destroy();
      reject(err instanceof ProxyError ? err : upgradeError(err, opts.upstream));
    }
    // The dialer hands the socket over paused; node's client reads with 'data' events.
    req.on('socket', (s) => s.resume());
    req.on('upgrade', (res, upgraded, upgradedHead) => {
      settle();
      upgraded.pause();
      resolve({ kind: 'upgrade', res, socket: upgraded, head: upgradedHead });
    });
    req.on('response', (res) => {
      settle();
      resolve({ kind: 'response', res });
    });
    req.on('error', fail);
    req.end();
  });
}

function upgradeError(err: unknown, upstream: string): ProxyError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('HPE_')) {
    return new ProxyError('EDGE_UPSTREAM_BAD_RESPONSE', `malformed response from ${upstream} (${code})`, err);
  }
  return new ProxyError(
    'EDGE_UPSTREAM_RESET',
    `${upstream} closed the connection before the response head (${code})`,
    err,
  );
}

/** A non-101 answer: relayed with Connection: close, the body delimited by the close. */
async function relayResponse(res: IncomingMessage, client: Socket, record: AccessRecord): Promise<void> {
  const headers = clientResponseHeaders(res.rawHeaders).filter((_, i, list) => {
    const name = (i % 2 === 0 ? list[i] : list[i - 1]) ?? '';
    return name.toLowerCase() !== 'content-length';
  });
  headers.push('Connection', 'close');
  client.write(serializeHead(res.statusCode ?? 502, res.statusMessage ?? '', headers));
  res.on('data', (chunk: Buffer) => (record.bytesOut += chunk.length));
  try {
    await pipeline(res, client);
  } finally {
    res.socket.destroy();
  }
}

function serializeHead(status: number, message: string, headers: readonly string[]): Buffer {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || 'Unknown'}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

/** Sends a final error response, then closes; cut off after a bound if the client keeps the socket. */
export function refuse(socket: Socket, response: Buffer): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Keep reading (and discarding) so unread input never turns the close into a RST that could
  // overtake the response.
  socket.on('data', () => {});
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end(response);
}
