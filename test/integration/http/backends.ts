/**
 * Test peers for the http listener: real node:http servers on [::1] standing in for IPv6-only backends,
 * a raw-socket client for bytes node's client would never send, and edge configs with an http listener.
 */
import { once } from 'node:events';
import http from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Test } from 'tap';
import type { ConfigInput } from '../../../src/config/schema.js';
import { testConfig } from '../../helpers/edge.js';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
}

export interface HttpBackend {
  readonly port: number;
  readonly server: http.Server;
  /** Every request head this backend received, in order. */
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Stops listening and drops every open connection (a "stopped backend"). */
  stop(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Default answer: JSON naming the backend and what it saw. */
export function describeRequest(label: string): Handler {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        label,
        method: req.method,
        url: req.url,
        headers: req.headers,
        remote: req.socket.remoteAddress,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': label });
      res.end(body);
    });
  };
}

export async function startHttpBackend(t: Test, label: string, handler?: Handler): Promise<HttpBackend> {
  const requests: SeenRequest[] = [];
  const answer = handler ?? describeRequest(label);
  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress ?? '',
    });
    answer(req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  let accepted = 0;
  server.on('connection', () => accepted++);
  server.listen(0, '::1');
  await once(server, 'listening');
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return stopped;
  };
  t.teardown(stop);
  return {
    port: (server.address() as AddressInfo).port,
    server,
    requests,
    connections: () => accepted,
    stop,
  };
}

/** A config with one http listener "web" on 127.0.0.1:0 and the given routes. */
export function httpConfig(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return testConfig({
    listeners: [{ name: 'web', address: '127.0.0.1:0', protocol: 'http', backendPort: 80 }],
    ...overrides,
  });
}

export interface RawResult {
  /** Everything the server sent, latin1. */
  readonly text: string;
  /** The server closed (FIN) rather than reset. */
  readonly ended: boolean;
  readonly error: string | null;
}

/**
 * Writes `data` on a fresh connection and collects the answer until the server closes the connection;
 * fails after `timeoutMs` (a bound, not a synchronisation).
 */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 10_000): Promise<RawResult> {
  return new Promise<RawResult>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | null = null;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got: ${Buffer.concat(chunks).toString('latin1')}`));
    }, timeoutMs);
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('end', () => (ended = true));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), ended, error });
    });
    socket.write(data);
  });
}

/** Opens a connection and resolves once it is established (for holding connection slots). */
export async function openSocket(t: Test, port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  t.teardown(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  return socket;
}

/** Parses one "HTTP/1.1 421 …\r\nheaders\r\n\r\nbody" response; a chunked body is decoded. */
export function parseRawResponse(text: string): {
  status: number;
  headers: Record<string, string>;
  body: string;
  trailers: Record<string, string>;
} {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = headerMap(lines);
  let body = split === -1 ? '' : text.slice(split + 4);
  let trailers: Record<string, string> = {};
  if (headers['transfer-encoding'] === 'chunked') {
    let rest = body;
    body = '';
    for (let guard = 0; guard < 100_000; guard++) {
      const eol = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, eol), 16);
      if (eol === -1 || Number.isNaN(size)) break;
      if (size === 0) {
        const end = rest.indexOf('\r\n\r\n', eol);
        trailers = headerMap(rest.slice(eol + 2, end === -1 ? undefined : end).split('\r\n'));
        break;
      }
      body += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body, trailers };
}

function headerMap(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
