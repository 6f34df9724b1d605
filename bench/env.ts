/**
 * What every scenario shares: the run's temp dir, the CPU pinning plan, the fd limit, the backends'
 * ports and the captured ClientHellos the load sends (test/fixtures/client-hellos).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort } from './procs.js';

export interface HelloFile {
  readonly path: string;
  readonly serverName: string;
}

export interface BenchEnv {
  readonly root: string;
  readonly dir: string;
  /** taskset CPU lists; undefined on a single-CPU machine (nothing pinned). */
  readonly proxyCpu: string | undefined;
  readonly loadCpu: string | undefined;
  /** The fd hard limit every process gets (`ulimit -n` in the spawning shell). */
  readonly nofile: number;
  /** Connections the idle scenario holds: 10k, or fewer when 2 fds per pair do not fit the fd limit. */
  readonly maxConnections: number;
  readonly backends: { readonly a: number; readonly b: number; readonly http: number };
  /** dnsmasq on [::1] answering AAAA for the edge46 route name, when dnsmasq is installed. */
  readonly dnsPort: number | null;
  readonly hellos: { readonly a: HelloFile; readonly b: HelloFile };
  ports(n: number): Promise<number[]>;
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function hello(name: string): HelloFile {
  const dir = new URL('../../test/fixtures/client-hellos/', import.meta.url);
  const index = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8')) as {
    hellos: { name: string; file: string; serverName: string | null }[];
  };
  const entry = index.hellos.find((h) => h.name === name);
  if (entry?.serverName === undefined || entry.serverName === null)
    throw new Error(`no captured hello ${name} with a server name`);
  return { path: fileURLToPath(new URL(entry.file, dir)), serverName: entry.serverName };
}

export function pinning(): { proxyCpu: string | undefined; loadCpu: string | undefined } {
  const cpus = availableParallelism();
  if (cpus < 2) return { proxyCpu: undefined, loadCpu: undefined };
  return { proxyCpu: String(cpus - 1), loadCpu: '0' };
}

export function hardNofile(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? 1_048_576 : Number(out);
}

export async function ports(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort('127.0.0.1');
    if (!out.includes(p)) out.push(p);
  }
  return out;
}
