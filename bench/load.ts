/**
 * The C load helper (bench/load/edge46-load.c): compiled with `cc -O2` into the run's temp dir, run pinned
 * to the load CPU, one JSON line back per client run. Backends (`serve`) run until stopped by PID.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Proc } from './procs.js';

const SOURCE = fileURLToPath(new URL('../../bench/load/edge46-load.c', import.meta.url));

export interface BulkResult {
  readonly streams: number;
  readonly seconds: number;
  readonly bytesDown: number;
  readonly bytesUp: number;
  readonly errors: number;
  readonly cpuSeconds: number;
}

export interface RateResult {
  readonly connections: number;
  readonly seconds: number;
  readonly errors: number;
  readonly cpuSeconds: number;
}

export interface HttpResult {
  readonly requests: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
  readonly cpuSeconds: number;
}

export class LoadHelper {
  private constructor(
    readonly path: string,
    readonly cpu: string | undefined,
  ) {}

  static build(dir: string, cpu: string | undefined): LoadHelper {
    const out = join(dir, 'edge46-load');
    execFileSync('cc', ['-O2', '-Wall', '-o', out, SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
    return new LoadHelper(out, cpu);
  }

  /** A backend on `listen` ("[::1]:port"); resolves once it listens. */
  async serve(name: string, listen: string, opts: { http?: boolean } = {}): Promise<Proc> {
    let ready!: () => void;
    const listening = new Promise<void>((resolve) => (ready = resolve));
    const proc = Proc.start({
      name,
      cmd: this.path,
      args: ['serve', '--listen', listen, '--id', name, ...(opts.http === true ? ['--http'] : [])],
      cpu: this.cpu,
      onLine: (line) => {
        if (line === 'listening') ready();
      },
    });
    await Promise.race([
      listening,
      proc.exited.then(() => {
        throw new Error(`${name} exited: ${proc.stderr()}`);
      }),
    ]);
    return proc;
  }

  bulk(args: {
    connect: string;
    hello: string;
    streams: number;
    dir: 'down' | 'up' | 'both';
    warmupMs: number;
    durationMs: number;
    cpuPid: number;
  }): Promise<BulkResult> {
    return this.run<BulkResult>('bulk', args, args.warmupMs + args.durationMs);
  }

  rate(args: {
    connect: string;
    hello: string;
    concurrency: number;
    warmupMs: number;
    durationMs: number;
    cpuPid: number;
  }): Promise<RateResult> {
    return this.run<RateResult>('rate', args, args.warmupMs + args.durationMs);
  }

  http(args: {
    connect: string;
    host: string;
    path: string;
    connections: number;
    warmupMs: number;
    durationMs: number;
    cpuPid: number;
  }): Promise<HttpResult> {
    return this.run<HttpResult>('http', args, args.warmupMs + args.durationMs);
  }

  /**
   * Opens `count` passthrough connections and holds them: resolves with `release()` once every one is
   * established end to end (the backend answered), or rejects on a timeout.
   */
  async idle(args: {
    connect: string;
    hello: string;
    count: number;
    timeoutMs: number;
  }): Promise<{ established: number; lost: number; seconds: number; release(): Promise<void> }> {
    let onReady!: (v: { established: number; lost: number; seconds: number }) => void;
    const ready = new Promise<{ established: number; lost: number; seconds: number }>((r) => (onReady = r));
    const proc = Proc.start({
      name: 'idle-load',
      cmd: this.path,
      args: ['idle', ...flags(args)],
      cpu: this.cpu,
      stdin: true,
      onLine: (line) => {
        const value = JSON.parse(line) as {
          event?: string;
          established: number;
          lost: number;
          seconds: number;
        };
        if (value.event === 'ready') onReady(value);
      },
    });
    const result = await Promise.race([
      ready,
      proc.exited.then(() => {
        throw new Error(`idle load exited before ready: ${proc.stderr()}`);
      }),
    ]);
    return {
      ...result,
      release: async () => {
        proc.writeLine('close');
        const timer = setTimeout(() => void proc.stop(), 10_000);
        await proc.exited;
        clearTimeout(timer);
      },
    };
  }

  private async run<T>(mode: string, args: Record<string, string | number>, expectedMs: number): Promise<T> {
    let last = '';
    const proc = Proc.start({
      name: `load-${mode}`,
      cmd: this.path,
      args: [mode, ...flags(args)],
      cpu: this.cpu,
      onLine: (line) => (last = line),
    });
    // Bounded: the helper stops itself after warm-up + duration; this is the backstop.
    const timer = setTimeout(() => void proc.stop(), expectedMs + 15_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    if (code !== 0 || last === '') throw new Error(`load ${mode} failed (${code}): ${proc.stderr().trim()}`);
    return JSON.parse(last) as T;
  }
}

function flags(args: Record<string, string | number>): string[] {
  return Object.entries(args).flatMap(([k, v]) => [
    `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    String(v),
  ]);
}
