/**
 * The peers edge46 is compared with, from their configs in bench/peers/ (placeholders filled in here):
 * HAProxy (with and without splice), nginx (stream + ssl_preread, and HTTP), sniproxy, and
 * node-http-proxy (the `http-proxy` package, bench/peers/node-http-proxy.ts). Each is optional.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchEnv } from './env.js';
import { Proc, waitForPort } from './procs.js';
import type { Running } from './systems.js';

const PEERS_DIR = fileURLToPath(new URL('../../bench/peers/', import.meta.url));
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export function render(template: string, values: Record<string, string | number>): string {
  const text = readFileSync(join(PEERS_DIR, template), 'utf8').replace(
    /\{\{([A-Z_]+)\}\}/g,
    (m, key: string) => {
      const v = values[key];
      if (v === undefined) throw new Error(`${template}: no value for ${m}`);
      return String(v);
    },
  );
  return text;
}

export function commandPath(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function commandVersion(cmd: string, args: string[], pattern: RegExp): string {
  // Some print their version on stderr (nginx -v), some exit non-zero (wrk --version).
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return pattern.exec(text)?.[0] ?? text.split('\n')[0] ?? '?';
}

function common(env: BenchEnv, tlsPort: number, httpPort: number): Record<string, string | number> {
  return {
    DIR: env.dir,
    TLS_FRONT: `127.0.0.1:${tlsPort}`,
    HTTP_FRONT: `127.0.0.1:${httpPort}`,
    SNI_A: env.hellos.a.serverName,
    SNI_B: env.hellos.b.serverName,
    SNI_A_RE: env.hellos.a.serverName.replaceAll('.', '\\.'),
    SNI_B_RE: env.hellos.b.serverName.replaceAll('.', '\\.'),
    BACKEND_A: `[::1]:${env.backends.a}`,
    BACKEND_B: `[::1]:${env.backends.b}`,
    BACKEND_HTTP: `[::1]:${env.backends.http}`,
  };
}

export async function startHaproxy(env: BenchEnv, splice: boolean): Promise<Running> {
  const [tlsPort = 0, httpPort = 0] = await env.ports(2);
  const name = splice ? 'haproxy-splice' : 'haproxy';
  const file = join(env.dir, `${name}.cfg`);
  writeFileSync(
    file,
    render('haproxy.cfg', {
      ...common(env, tlsPort, httpPort),
      // Forced both ways: splice-auto left bulk transfers here in userspace buffers.
      SPLICE: splice ? 'option splice-request\n  option splice-response' : '',
      // Each connection takes 2 fds and each pipe 2 more: stay inside the fd limit with splice too.
      MAXCONN: splice ? Math.floor((env.nofile - 1_300) / 2) : env.maxConnections + 50,
      MAXPIPES: splice ? 512 : 0,
    }),
  );
  const proc = Proc.start({ name, cmd: 'haproxy', args: ['-db', '-f', file], cpu: env.proxyCpu });
  return ready(proc, tlsPort, httpPort);
}

export async function startNginx(env: BenchEnv): Promise<Running> {
  const [tlsPort = 0, httpPort = 0] = await env.ports(2);
  const dir = join(env.dir, 'nginx');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  writeFileSync(
    file,
    render('nginx.conf', {
      ...common(env, tlsPort, httpPort),
      DIR: dir,
      STREAM_MODULE: NGINX_STREAM_MODULE,
      NOFILE: env.nofile,
      WORKER_CONNECTIONS: env.nofile - 50,
    }),
  );
  const proc = Proc.start({ name: 'nginx', cmd: 'nginx', args: ['-c', file, '-p', dir], cpu: env.proxyCpu });
  return ready(proc, tlsPort, httpPort);
}

export async function startSniproxy(env: BenchEnv): Promise<Running> {
  const [tlsPort] = await env.ports(1);
  const dir = join(env.dir, 'sniproxy');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'sniproxy.conf');
  writeFileSync(file, render('sniproxy.conf', { ...common(env, tlsPort ?? 0, 0), DIR: dir }));
  const proc = Proc.start({ name: 'sniproxy', cmd: 'sniproxy', args: ['-f', '-c', file], cpu: env.proxyCpu });
  return ready(proc, tlsPort ?? 0, null);
}

export async function startNodeHttpProxy(env: BenchEnv): Promise<Running> {
  const [httpPort] = await env.ports(1);
  const script = fileURLToPath(new URL('./peers/node-http-proxy.js', import.meta.url));
  const proc = Proc.start({
    name: 'node-http-proxy',
    cmd: process.execPath,
    args: [script, String(httpPort), `http://[::1]:${env.backends.http}`],
    cpu: env.proxyCpu,
  });
  return ready(proc, null, httpPort ?? 0);
}

export function httpProxyVersion(): string {
  const path = fileURLToPath(new URL('../../node_modules/http-proxy/package.json', import.meta.url));
  if (!existsSync(path)) return '?';
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

export async function ready(proc: Proc, tlsPort: number | null, httpPort: number | null): Promise<Running> {
  try {
    if (tlsPort !== null) await waitForPort('127.0.0.1', tlsPort, proc);
    if (httpPort !== null) await waitForPort('127.0.0.1', httpPort, proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    proc,
    tls: tlsPort === null ? null : `127.0.0.1:${tlsPort}`,
    tlsB: tlsPort === null ? null : `127.0.0.1:${tlsPort}`,
    http: httpPort === null ? null : `127.0.0.1:${httpPort}`,
    stop: () => proc.stop(),
  };
}
