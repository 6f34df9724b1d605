/**
 * The TLS passthrough path for one client connection:
 * sniff the ClientHello → route by SNI → resolve AAAA → staggered connect → pipe the untouched bytes.
 * Every failure is a ProxyError; `describeOutcome` decides the alert, this module only sends it.
 */
import type { Socket } from 'node:net';
import { clientSource } from '../connect/client-source.js';
import { dial } from '../connect/dialer.js';
import { describeOutcome, errorMessage, ProxyError, type Outcome } from '../errors.js';
import type { ConnectionEvent } from '../observe/metrics.js';
import type { PipeEnd, PipeHandle, PipeResult } from '../pipe/engine.js';
import { createTlsSniffer, type ClientHello } from '../sniff/tls-client-hello.js';
import { encodeAlert } from '../tls/alert.js';
import type { TerminatedConnection } from '../tls/terminator.js';
import { formatHostPort } from './address.js';
import { effectiveClient } from './client-address.js';
import type { ConnectionContext } from './context.js';
import type { DataPath, ListenerRuntime } from './data-path.js';
import { sniffSocket } from './sniff-socket.js';

/** Fields of the one log line written when the connection ends. */
interface ConnectionRecord {
  sni?: string | null;
  alpn?: readonly string[];
  route?: string;
  target?: string;
  backend?: string;
  bytesIn: number;
  bytesOut: number;
  /** NAT46 (or kept IPv6) source address the backend was dialled from. */
  source?: string;
  proxyProtocol?: 'v1' | 'v2';
  /** Terminate routes: the handshake edge46 completed (then HTTP logs each request). */
  tls?: TerminatedConnection;
}

const END_OUTCOME: Record<PipeEnd, Outcome> = {
  done: 'ok',
  idle: 'timeout',
  'client-reset': 'reset',
  'backend-reset': 'reset',
  aborted: 'reset',
  error: 'reset',
};

/** Bound on lingering after an alert, so a client that never closes cannot hold the socket. */
const ALERT_LINGER_MS = 2_000;

export async function handleTlsConnection(
  socket: Socket,
  ctx: ConnectionContext,
  listener: ListenerRuntime,
  dataPath: DataPath,
  track: (pipe: PipeHandle) => void,
): Promise<void> {
  const record: ConnectionRecord = { bytesIn: 0, bytesOut: 0 };
  // Until the pipe engine takes over, errors on the client socket are reported by the phase that is
  // waiting on it; this listener only keeps an early RST from crashing the process.
  const swallow = (): void => {};
  socket.on('error', swallow);
  const abort = new AbortController();
  const onClientGone = (): void => abort.abort(new ProxyError('EDGE_CLIENT_CLOSED', 'client went away'));
  let result: PipeResult;
  try {
    const cfg = listener.config;
    const { value: hello, head } = await sniffSocket(
      socket,
      createTlsSniffer({ maxHelloBytes: cfg.maxHelloBytes }),
      {
        timeoutMs: cfg.sniffTimeoutMs,
        maxBytes: cfg.maxHelloBytes + 16_384,
      },
    );
    ctx.mark('sniff');
    record.sni = hello.serverName;
    record.alpn = hello.alpn;
    socket.once('close', onClientGone);

    const name = requestedName(hello, cfg.defaultHost);
    const state = dataPath.current();
    const lookup = state.routes.lookup(name);
    if (!lookup.ok) {
      throw new ProxyError(
        'EDGE_NO_ROUTE',
        lookup.reason === 'no-route'
          ? `no route for ${name}`
          : `route target for ${name} is not a valid name`,
      );
    }
    const match = lookup.match;
    record.route = match.route.pattern;
    if (state.config.routes[match.route.index]?.tls === 'terminate') {
      const terminator = dataPath.terminator;
      if (terminator === undefined) throw new ProxyError('EDGE_INTERNAL', 'TLS termination is not running');
      socket.off('close', onClientGone);
      const request = { socket, head, name, ctx, listener, track };
      await terminator.serve(request, (tls) => (record.tls = tls));
      return;
    }
    const port = match.port ?? cfg.backendPort ?? listener.port;
    const carry = clientSource({
      listener: cfg,
      route: state.config.routes[match.route.index],
      client: ctx.clientAddress ?? effectiveClient(peerOf(socket), localOf(socket)),
      authority: hello.serverName,
      // Passthrough: only the offer is known; a single offered protocol is the only one that can win.
      ...(hello.alpn.length === 1 && hello.alpn[0] !== undefined ? { alpn: hello.alpn[0] } : {}),
      policy: state.policy,
    });
    if (carry.dial.localAddress !== undefined) record.source = carry.dial.localAddress;
    if (carry.proxyProtocol !== 'none') record.proxyProtocol = carry.proxyProtocol;

    let addresses: readonly string[];
    if (match.target.kind === 'address') {
      record.target = formatHostPort(match.target.address, port);
      addresses = [match.target.address];
    } else {
      record.target = match.target.name;
      const resolution = await state.resolver.resolve(match.target.name, state.policy);
      addresses = resolution.addresses;
    }
    ctx.mark('resolve');
    if (abort.signal.aborted) throw abort.signal.reason;

    const dialed = await dial({
      addresses,
      port,
      policy: state.policy,
      connectTimeoutMs: state.config.timeouts.connectMs,
      attemptDelayMs: state.config.timeouts.attemptDelayMs,
      signal: abort.signal,
      ...carry.dial,
    });
    ctx.mark('connect');
    record.backend = formatHostPort(dialed.address, port);
    socket.off('close', onClientGone);
    if (socket.destroyed) {
      dialed.socket.destroy();
      throw new ProxyError('EDGE_CLIENT_CLOSED', 'client went away while connecting');
    }

    const pipe = state.pipe.start(socket, dialed.socket, {
      // The PROXY header goes first, before the ClientHello.
      clientHead: carry.header === null ? head : Buffer.concat([carry.header, head]),
      idleTimeoutMs: state.config.timeouts.idleMs,
    });
    track(pipe);
    result = await pipe.done;
  } catch (err) {
    socket.off('close', onClientGone);
    const outcome = describeOutcome(err);
    refuse(socket, outcome.tlsAlert === null ? null : encodeAlert(outcome.tlsAlert));
    const level = outcome.side === 'internal' && outcome.code === 'EDGE_INTERNAL' ? 'error' : 'info';
    ctx.log[level](
      { ...record, ...closing(ctx), outcome: outcome.outcome, code: outcome.code, reason: outcome.message },
      'connection closed',
    );
    dataPath.metrics?.connectionClosed({
      ...observed(ctx, record),
      outcome: outcome.outcome,
      code: outcome.code,
      reason: outcome.message,
    });
    return;
  }
  socket.off('error', swallow);
  record.bytesIn = result.bytesToBackend;
  record.bytesOut = result.bytesToClient;
  const fields = { ...record, ...closing(ctx), outcome: END_OUTCOME[result.end], end: result.end };
  if (result.error !== undefined) {
    ctx.log.info({ ...fields, reason: errorMessage(result.error) }, 'connection closed');
  } else {
    ctx.log.info(fields, 'connection closed');
  }
  dataPath.metrics?.connectionClosed({
    ...observed(ctx, record),
    outcome: fields.outcome,
    ...(fields.outcome === 'ok'
      ? {}
      : { code: result.end, reason: errorMessage(result.error ?? result.end) }),
  });
}

/** The metrics' view of the record (called after closing(), so the total is set). */
function observed(ctx: ConnectionContext, record: ConnectionRecord): Omit<ConnectionEvent, 'outcome'> {
  return {
    listener: ctx.listener,
    sni: record.sni,
    route: record.route,
    bytesToBackend: record.bytesIn,
    bytesToClient: record.bytesOut,
    timings: ctx.timings,
  };
}

function peerOf(socket: Socket): { address?: string | undefined; port?: number | undefined } {
  return { address: socket.remoteAddress, port: socket.remotePort };
}

function localOf(socket: Socket): { address?: string | undefined; port?: number | undefined } {
  return { address: socket.localAddress, port: socket.localPort };
}

function requestedName(hello: ClientHello, defaultHost: string | undefined): string {
  if (hello.serverName !== null) return hello.serverName;
  if (defaultHost !== undefined) return defaultHost.toLowerCase();
  throw new ProxyError('EDGE_NO_SNI', 'ClientHello without server_name and no defaultHost');
}

function closing(ctx: ConnectionContext): { durations: Record<string, number> } {
  ctx.total();
  return { durations: { ...ctx.timings } };
}

/** Sends the alert (if any), then closes; a client that keeps the socket open is cut off after a bound. */
function refuse(socket: Socket, alert: Buffer | null): void {
  if (socket.destroyed) return;
  if (alert === null || !socket.writable) {
    socket.destroy();
    return;
  }
  // Keep reading (and discarding) so the kernel never answers unread data with a RST that could
  // overtake the alert; then close once the client has seen it.
  socket.on('data', () => {});
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), ALERT_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end(alert);
}
