/** What the numbers were measured on: CPU, kernel, versions, pinning, limits, load. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { BenchEnv } from './env.js';

export interface Machine {
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly pinning: string;
  readonly nofile: number;
  readonly loadAverageAtStart: readonly number[];
  loadAverageAtEnd: readonly number[];
  readonly versions: Record<string, string>;
}

export function describeMachine(env: BenchEnv, versions: Record<string, string>): Machine {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  return {
    cpu,
    cpus: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    pinning:
      env.proxyCpu === undefined
        ? 'none (single CPU)'
        : `proxy (all its threads) on CPU ${env.proxyCpu}; load generators, backends, dnsmasq and the bench on CPU ${env.loadCpu ?? '?'} (taskset)`,
    nofile: env.nofile,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    loadAverageAtEnd: [],
    versions,
  };
}
