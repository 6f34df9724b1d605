/**
 * Helpers for the operations tests (admin, metrics, reload, drain, workers): plain TCP backends and raw
 * clients whose byte counts are exact (a crafted ClientHello followed by known payloads), a Prometheus
 * text parser, and edge46 as a real process on loopback (`node dist/src/main.js`).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { helloRecord, sniExt } from '../unit/sniff/client-hello-builder.js';
import { childEnv, signalPid, spawnProcess, type ChildHandle, type JsonRecord } from './process.js';

export const MAIN_JS = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

/** A complete single-record ClientHello naming `sni`. */
export function helloFor(sni: string): Buffer {
  return helloRecord({ extensions: [sniExt(sni)] });
}

export interface TcpBackend {
  readonly port: number;
  readonly server: Server;
  /** Connections accepted so far. */
  readonly sockets: Socket[];
  /** Resolves with the n-th (0-based) accepted socket. */
  socket(n: number): Promise<Socket>;
}

/** A plain TCP server on [::1]:0 standing in for an IPv6-only backend; `onSocket` runs per connection. */
export async function startTcpBackend(
  t: Test,
  onSocket: (socket: Socket) => void = () => {},
): Promise<TcpBackend> {
  const sockets: Socket[] = [];
  const waiters: { n: number; resolve: (s: Socket) => void }[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    sockets.push(socket);
    for (const w of waiters.filter((w) => w.n === sockets.length - 1)) w.resolve(socket);
    onSocket(socket);
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    sockets,
    socket: (n) => {
      const s = sockets[n];
      return s !== undefined ? Promise.resolve(s) : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** Reads exactly `n` bytes (fewer if the stream ends first). */
export function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', done);
      socket.off('error', onError);
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) socket.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) done();
    };
    const onError = (err: Error): void => {
      socket.off('data', onData);
      socket.off('end', done);
      reject(err);
    };
    socket.on('data', onData);
    socket.on('end', done);
    socket.on('error', onError);
    socket.resume();
  });
}

/** Reads until the peer ends (FIN) or resets the stream; resolves with everything read. */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (): void => resolve(Buffer.concat(chunks));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.once('end', done);
    socket.once('close', done);
    socket.resume();
  });
}

/** Connects to 127.0.0.1:port (allowHalfOpen) and resolves once connected. */
export async function tcpConnect(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(socket, 'connect');
  return socket;
}

/** Resolves with the error code of a connection attempt that fails (ECONNREFUSED), or 'connected'. */
export function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

// ---------------------------------------------------------------------------------------------------
// Prometheus text format

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PromText {
  readonly samples: Sample[] = [];

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (m === null) throw new Error(`unparsable metrics line: ${line}`);
      const labels: Record<string, string> = {};
      for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[pair[1] ?? ''] = (pair[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
      const raw = m[3] ?? '';
      const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
      this.samples.push({ name: m[1] ?? '', labels, value });
    }
  }

  /** The value of the one sample with this name whose labels include `labels`; undefined if none. */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length > 1 && Object.keys(labels).length > 0)
      throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
    return found[0]?.value;
  }

  /** Every sample of a metric, as "label=value,…" → value (labels sorted), for exact comparisons. */
  series(name: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples.filter((x) => x.name === name)) {
      const key = Object.entries(s.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out[key] = s.value;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// edge46 as a real process on loopback

export interface EdgeProcess {
  readonly child: ChildHandle;
  readonly dir: string;
  readonly configFile: string;
  readonly adminPort: number;
  /** Port of the listener with this name, from its first `listening` line. */
  listenerPort(name: string): number;
  /** GET on the admin server. */
  admin(path: string): Promise<{ status: number; text: string; contentType: string }>;
  metrics(): Promise<PromText>;
  /** The first JSON log line at or after `from` (a stdout line index) that matches. */
  waitLog(
    match: (r: JsonRecord) => boolean,
    opts?: { from?: number; timeoutMs?: number },
  ): Promise<JsonRecord>;
  /** Index of the next stdout line (pass as `from`). */
  mark(): number;
  writeConfig(yaml: string): Promise<void>;
  signal(signal: NodeJS.Signals): void;
}

export function requireBuild(): string | false {
  return existsSync(MAIN_JS) ? false : `${MAIN_JS} is missing: run \`npm run build\` (npm test does)`;
}

/**
 * Starts `node dist/src/main.js --config FILE` and resolves once it serves: `edge46 cluster started`
 * with several workers, `edge46 started` with one, and `admin listening`. The config should use
 * port 0 everywhere (`admin.address: 127.0.0.1:0`).
 */
export async function startEdgeProcess(t: Test, yaml: string): Promise<EdgeProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-ops-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'edge46.yaml');
  await writeFile(configFile, yaml);
  const child = spawnProcess([process.execPath, MAIN_JS, '--config', configFile, '--log-format', 'json'], {
    name: 'edge46',
    env: childEnv(),
    stopTimeoutMs: 5000,
  });
  // Two SIGTERMs: the second makes edge46 exit at once (and a primary kill its workers) instead of draining.
  t.teardown(async () => {
    if (child.exitInfo !== null) return;
    signalPid(child.pid, 'SIGTERM');
    signalPid(child.pid, 'SIGTERM');
    await child.stop({ timeoutMs: 3000 });
  });
  const starting = await child.waitForJson((r) => r.msg === 'edge46 starting', 20_000);
  await child.waitForJson(
    Number(starting.workers) > 1
      ? (r) => typeof r.msg === 'string' && r.msg.startsWith('edge46 cluster started')
      : (r) => typeof r.msg === 'string' && r.msg.startsWith('edge46 started'),
    20_000,
  );
  const admin = await child.waitForJson((r) => r.msg === 'admin listening', 20_000);
  const adminPort = Number(String(admin.address).split(':').pop());
  const base = `http://127.0.0.1:${adminPort}`;
  const get = async (path: string): Promise<{ status: number; text: string; contentType: string }> => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
  };
  return {
    child,
    dir,
    configFile,
    adminPort,
    listenerPort(name) {
      const line = child.jsonLines().find((r) => r.msg === 'listening' && r.listener === name);
      if (line === undefined) throw new Error(`no listening line for ${name}`);
      return Number(String(line.address).split(':').pop());
    },
    admin: get,
    metrics: async () => new PromText((await get('/metrics')).text),
    waitLog: (match, opts = {}) =>
      child.waitForJson(match, opts.timeoutMs ?? 10_000, { from: opts.from ?? 0 }),
    mark: () => child.stdout.length,
    writeConfig: (text) => writeFile(configFile, text),
    signal: (signal) => process.kill(child.pid, signal),
  };
}

/** A backend that answers every connection with `label` and ends (plain TCP on [::1]). */
export function startLabelBackend(t: Test, label: string): Promise<TcpBackend> {
  return startTcpBackend(t, (socket) => {
    socket.resume();
    socket.end(label);
  });
}

/**
 * Connects through edge46 with a crafted hello for `sni` and returns what comes back before the
 * stream ends: a label backend's label, or a TLS alert (or nothing) when edge46 refuses.
 */
export async function askThrough(port: number, sni: string): Promise<string> {
  const socket = await tcpConnect(port);
  socket.write(helloFor(sni));
  const reply = await readAll(socket);
  socket.end();
  return reply.subarray(0, 1)[0] === 0x15 ? `alert:${reply[reply.length - 1] ?? -1}` : reply.toString();
}
