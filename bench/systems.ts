/**
 * The systems under test: edge46 (dist/src/main.js, one process, splice or js engine), the baselines
 * (direct: no proxy; node-http-proxy) and the peers when installed. Each starts pinned to the proxy CPU
 * and answers on 127.0.0.1; backends are on [::1].
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative, nativeLoadError } from '../src/pipe/native.js';
import type { BenchEnv } from './env.js';
import {
  commandPath,
  commandVersion,
  httpProxyVersion,
  NGINX_STREAM_MODULE,
  ready,
  startHaproxy,
  startNginx,
  startNodeHttpProxy,
  startSniproxy,
} from './peers.js';
import { Proc } from './procs.js';

export type SystemId =
  | 'direct'
  | 'edge46-splice'
  | 'edge46-js'
  | 'haproxy-splice'
  | 'haproxy'
  | 'nginx'
  | 'sniproxy'
  | 'node-http-proxy';

export interface Running {
  /** null for `direct`. */
  readonly proc: Proc | null;
  /** Where passthrough clients connect (for `direct`: backend A itself). */
  readonly tls: string | null;
  /** Where clients of backend B connect (the same front for proxies). */
  readonly tlsB: string | null;
  readonly http: string | null;
  stop(): Promise<void>;
}

export interface SystemSpec {
  readonly id: SystemId;
  readonly label: string;
  readonly tls: boolean;
  readonly http: boolean;
  /** null when it can run here, else why not. */
  unavailable(): string | null;
  version(): string;
  start(env: BenchEnv): Promise<Running>;
}

const needs = (cmd: string) => (): string | null =>
  commandPath(cmd) === null ? `${cmd} not installed` : null;

export const SYSTEMS: readonly SystemSpec[] = [
  {
    id: 'direct',
    label: 'direct (no proxy)',
    tls: true,
    http: true,
    unavailable: () => null,
    version: () => 'loopback',
    start: async (env) => ({
      proc: null,
      tls: `[::1]:${env.backends.a}`,
      tlsB: `[::1]:${env.backends.b}`,
      http: `[::1]:${env.backends.http}`,
      stop: () => Promise.resolve(),
    }),
  },
  {
    id: 'edge46-splice',
    label: 'edge46 splice',
    tls: true,
    http: true,
    unavailable: () => (loadNative() === null ? (nativeLoadError() ?? 'native addon unavailable') : null),
    version: edge46Version,
    start: (env) => startEdge46(env, 'splice'),
  },
  {
    id: 'edge46-js',
    label: 'edge46 js',
    tls: true,
    http: false,
    unavailable: () => null,
    version: edge46Version,
    start: (env) => startEdge46(env, 'js'),
  },
  {
    id: 'haproxy-splice',
    label: 'HAProxy splice',
    tls: true,
    http: false,
    unavailable: needs('haproxy'),
    version: () => commandVersion('haproxy', ['-v'], /HAProxy version \S+/),
    start: (env) => startHaproxy(env, true),
  },
  {
    id: 'haproxy',
    label: 'HAProxy',
    tls: true,
    http: true,
    unavailable: needs('haproxy'),
    version: () => commandVersion('haproxy', ['-v'], /HAProxy version \S+/),
    start: (env) => startHaproxy(env, false),
  },
  {
    id: 'nginx',
    label: 'nginx',
    tls: true,
    http: true,
    unavailable: () =>
      needs('nginx')() ??
      (existsSync(NGINX_STREAM_MODULE) ? null : 'nginx stream module missing (libnginx-mod-stream)'),
    version: () => commandVersion('nginx', ['-v'], /nginx\/\S+/),
    start: startNginx,
  },
  {
    id: 'sniproxy',
    label: 'sniproxy',
    tls: true,
    http: false,
    unavailable: needs('sniproxy'),
    version: () => commandVersion('sniproxy', ['-V'], /sniproxy \S+/),
    start: startSniproxy,
  },
  {
    id: 'node-http-proxy',
    label: 'node-http-proxy',
    tls: false,
    http: true,
    unavailable: () => null,
    version: () => `http-proxy ${httpProxyVersion()}, node ${process.version}`,
    start: startNodeHttpProxy,
  },
];

export function edge46Version(): string {
  const pkg = JSON.parse(readFileSync(join(edge46Root(), 'package.json'), 'utf8')) as { version: string };
  let rev = '';
  try {
    rev = execFileSync('git', ['-C', edge46Root(), 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // not a git checkout
  }
  return `edge46 ${pkg.version}${rev === '' ? '' : ` (${rev})`}, node ${process.version}`;
}

function edge46Root(): string {
  return new URL('../../', import.meta.url).pathname;
}

async function startEdge46(env: BenchEnv, engine: 'splice' | 'js'): Promise<Running> {
  const [tlsPort = 0, httpPort = 0, adminPort = 0] = await env.ports(3);
  const routeA =
    env.dnsPort === null
      ? { host: env.hellos.a.serverName, target: '[::1]', port: env.backends.a }
      : { host: env.hellos.a.serverName, target: 'a.bench.test', port: env.backends.a };
  const config = {
    listeners: [
      {
        name: 'tls',
        address: `127.0.0.1:${tlsPort}`,
        protocol: 'tls',
        maxConnections: env.maxConnections + 50,
      },
      { name: 'http', address: `127.0.0.1:${httpPort}`, protocol: 'http', maxConnections: 10_000 },
    ],
    routes: [
      routeA,
      { host: env.hellos.b.serverName, target: '[::1]', port: env.backends.b },
      { host: 'bench.test', target: '[::1]', port: env.backends.http },
    ],
    backends: { allow: ['::1/128'], deny: [] },
    ...(env.dnsPort === null ? {} : { resolver: { servers: [`[::1]:${env.dnsPort}`] } }),
    pipe: { engine, threads: 1 },
    workers: 1,
    admin: { address: `127.0.0.1:${adminPort}` },
    drain: { announceSeconds: 0, timeoutSeconds: 1 },
    // Peers run without access logs; edge46's per-connection line is info.
    log: { level: 'warn', format: 'json' },
  };
  const file = join(env.dir, `edge46-${engine}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const proc = Proc.start({
    name: `edge46-${engine}`,
    cmd: process.execPath,
    args: [join(edge46Root(), 'dist/src/main.js'), '--config', file],
    cpu: env.proxyCpu,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return ready(proc, tlsPort, httpPort);
}
