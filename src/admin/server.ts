/**
 * The admin HTTP server, on its own address (admin.address, default 127.0.0.1:9646) and never on a
 * proxy listener:
 *   GET /metrics   Prometheus text format (process and Node metrics included)
 *   GET /healthz   200 while the process runs
 *   GET /readyz    200 when ready, 503 (with the failing checks) otherwise, e.g. while draining
 *   GET /routes    the live route table with cached resolutions (JSON)
 *   GET /status    everything the page shows (JSON)
 *   GET /          the status page (HTML)
 * What it serves comes from an AdminSource: the App in single-process mode, the workers over IPC in
 * cluster mode.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, parseHostPort } from '../accept/address.js';
import type { ReadinessReport } from '../lifecycle/readiness.js';
import type { Logger } from '../observe/logger.js';
import { renderStatusPage } from './page.js';
import type { StatusView } from './status.js';

export interface AdminSource {
  metrics(): Promise<{ readonly contentType: string; readonly body: string }>;
  readiness(): ReadinessReport;
  status(): Promise<StatusView>;
}

export interface AdminServerOptions {
  readonly address: string;
  readonly source: AdminSource;
  readonly log: Logger;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

export class AdminServer {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: Server,
    readonly address: AddressInfo,
  ) {}

  /** Binds admin.address; rejects when it cannot (edge46 then does not start). */
  static async start(opts: AdminServerOptions): Promise<AdminServer> {
    const parsed = parseHostPort(opts.address);
    if (parsed === null) throw new Error(`admin.address: bad address ${opts.address}`);
    const server = createServer((req, res) => {
      handle(req, res, opts.source).catch((err: unknown) => {
        opts.log.error({ err, path: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(new Error(`admin server: cannot listen on ${opts.address}: ${err.message}`, { cause: err }));
      server.once('error', onError);
      // exclusive: in a cluster only the primary runs this server; never share it with workers.
      server.listen({ host: parsed.host, port: parsed.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => opts.log.error({ err }, 'admin server error'));
    const address = server.address() as AddressInfo;
    opts.log.info({ address: formatHostPort(address.address, address.port) }, 'admin listening');
    return new AdminServer(server, address);
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, source: AdminSource): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  switch (path) {
    case '/healthz':
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/readyz': {
      const report = source.readiness();
      sendJson(res, report.ready ? 200 : 503, report);
      return;
    }
    case '/metrics': {
      const { contentType, body } = await source.metrics();
      send(res, 200, contentType, body);
      return;
    }
    case '/routes': {
      const view = await source.status();
      sendJson(res, 200, {
        generatedAt: new Date(view.generatedAt).toISOString(),
        routes: view.routes,
        otherResolutions: view.otherResolutions,
        certificates: view.certificates,
      });
      return;
    }
    case '/status':
      sendJson(res, 200, await source.status());
      return;
    case '/':
      res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
      res.setHeader('x-frame-options', 'DENY');
      send(res, 200, 'text/html; charset=utf-8', renderStatusPage(await source.status()));
      return;
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /metrics, /healthz, /readyz, /routes\n');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
