/**
 * Test rig for TLS termination: edge46 in-process with a tls listener that serves passthrough and
 * terminate routes, plain HTTP/1.1 backends on [::1], real clients (curl, openssl s_client, node's
 * https and http2) that verify what they are shown against the right CA.
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Test } from 'tap';
import type { ConfigInput } from '../../../src/config/schema.js';
import { testConfig, withEdge, type Edge } from '../../helpers/edge.js';
import { runCommand, type ExecResult } from '../../helpers/process.js';
import { testPki } from '../../helpers/tls-backend.js';
import { tlsFixtures } from '../../unit/tls/fixtures.js';

export { testPki, tlsFixtures };
/** Trust anchor of edge46's own test certificates. */
export const edgeCa = tlsFixtures.caFile;
/** Trust anchor of the backends' certificate (test/fixtures/certs). */
export const backendCa = testPki.caFile;

/** A tls listener on 127.0.0.1:0 with the given routes and tls section. */
export function terminateConfig(overrides: Partial<ConfigInput>): ConfigInput {
  return testConfig({
    listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls', backendPort: 443 }],
    log: { level: 'debug', format: 'json' },
    ...overrides,
  });
}

export async function startEdge(t: Test, overrides: Partial<ConfigInput>): Promise<Edge> {
  return withEdge(t, terminateConfig(overrides));
}

/** curl against the edge with `name` resolved to it; `-w` appends the status and HTTP version. */
export function curl(
  port: number,
  name: string,
  path: string,
  args: readonly string[] = [],
): Promise<ExecResult> {
  return runCommand(
    [
      'curl',
      '-sS',
      '--max-time',
      '20',
      '--resolve',
      `${name}:${port}:127.0.0.1`,
      '-w',
      '\n%{http_code} %{http_version}',
      ...args,
      `https://${name}:${port}${path}`,
    ],
    { timeoutMs: 30_000 },
  );
}

/** The body and the trailing "status version" line curl -w printed. */
export function curlResult(r: ExecResult): { body: string; status: number; version: string } {
  const cut = r.stdout.lastIndexOf('\n');
  const [status, version] = r.stdout.slice(cut + 1).split(' ');
  return { body: r.stdout.slice(0, cut), status: Number(status), version: version ?? '' };
}

/** openssl s_client with full verification; `input` is written after the handshake. */
export function sClient(
  port: number,
  servername: string,
  caFile: string,
  extra: readonly string[] = [],
  input = '',
): Promise<ExecResult> {
  return runCommand(
    [
      'openssl',
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-servername',
      servername,
      '-CAfile',
      caFile,
      '-verify_return_error',
      '-verify_hostname',
      servername,
      // With a request to send, keep reading until the server closes (Connection: close).
      ...(input === '' ? [] : ['-ign_eof']),
      ...extra,
    ],
    { input, timeoutMs: 30_000 },
  );
}

export interface JsonAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP/1.1 request over TLS through the edge, verifying edge46's certificate against `ca`. */
export function httpsGet(
  port: number,
  servername: string,
  path: string,
  opts: { ca?: string | Buffer; host?: string; agent?: https.Agent } = {},
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path,
        servername,
        ca: opts.ca ?? tlsFixtures.ca,
        headers: { host: opts.host ?? servername },
        ...(opts.agent === undefined ? { agent: false } : { agent: opts.agent }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
  });
}

/** An HTTP/2 session through the edge (verifying edge46's certificate). */
export async function h2Session(
  t: Test,
  port: number,
  servername: string,
): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://${servername}:${port}`, {
    createConnection: () =>
      tls.connect({ host: '127.0.0.1', port, servername, ca: tlsFixtures.ca, ALPNProtocols: ['h2'] }),
  });
  t.teardown(() => session.close());
  await once(session, 'connect');
  return session;
}

/** One request on an HTTP/2 session; `authority` overrides :authority (connection coalescing). */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: Record<string, string | string[] | undefined> = {};
    let data = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (d: string) => (data += d));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: data }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

export interface HttpsBackend {
  readonly port: number;
  /** SNI of every TLS connection it accepted. */
  readonly servernames: string[];
}

/**
 * An HTTPS server on [::1] with the backend test certificate (test/fixtures/certs: backend.test,
 * *.svc.c2.k8s.example, web.example, *.apps.example.com, localhost) or another pair; answers JSON.
 */
export async function startHttpsBackend(
  t: Test,
  label: string,
  pair: { cert: string | Buffer; key: string | Buffer } = { cert: testPki.cert, key: testPki.key },
): Promise<HttpsBackend> {
  const servernames: string[] = [];
  const server = https.createServer(pair, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ label, url: req.url, headers: req.headers, httpVersion: req.httpVersion }));
    });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    servernames.push(typeof socket.servername === 'string' ? socket.servername : '');
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { port: (server.address() as AddressInfo).port, servernames };
}

/** The "Peer certificate: …" subject openssl s_client -brief printed (stderr). */
export function peerSubject(r: ExecResult): string | undefined {
  return /Peer certificate: (.*)/.exec(r.stderr)?.[1]?.trim();
}
