/**
 * (3) HTTP/1.1 keep-alive through each reverse proxy to the C backend: 100 B and 64 KiB responses, 50
 * connections. wrk when installed (one warm-up run per system and size, discarded), else the C helper's
 * http mode. req/s, p50/p99 and the proxy's CPU µs per request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { finalize, newCell, record, rotate, type Cell } from './cells.js';
import type { Live } from './passthrough.js';
import type { Ctx } from './plan.js';
import { Proc, readCpuSeconds } from './procs.js';
import type { HttpResult } from './load.js';

export const HTTP_SIZES = [100, 65_536] as const;

export async function httpKeepAlive(ctx: Ctx, systems: readonly Live[]): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const size of HTTP_SIZES) {
    const cell = newCell(
      `http-${size}`,
      'http',
      `HTTP keep-alive, ${size === 100 ? '100 B' : '64 KiB'} responses, ${ctx.plan.httpConnections} connections (${ctx.wrk === null ? 'C loader' : 'wrk'})`,
      [
        { key: 'reqPerSec', label: 'req/s', better: 'higher', digits: 0 },
        { key: 'p50Ms', label: 'p50 ms', better: 'lower', digits: 2 },
        { key: 'p99Ms', label: 'p99 ms', better: 'lower', digits: 2 },
        { key: 'cpuUsPerReq', label: 'CPU µs/req', better: 'lower', digits: 1 },
      ],
    );
    if (ctx.wrk !== null) {
      for (const sys of systems) await measure(ctx, sys, size, true).catch(() => undefined);
    }
    for (let r = 0; r < ctx.plan.runs; r++) {
      for (const sys of rotate(systems, r)) {
        try {
          const res = await measure(ctx, sys, size, false);
          record(
            cell,
            sys.id,
            {
              reqPerSec: res.requests / res.seconds,
              p50Ms: res.p50Us / 1000,
              p99Ms: res.p99Us / 1000,
              cpuUsPerReq: sys.running.proc === null ? NaN : (res.cpuSeconds * 1e6) / res.requests,
            },
            res.errors > 0 ? `${res.errors} error(s)` : undefined,
          );
        } catch (err) {
          record(cell, sys.id, {}, `failed: ${String(err).slice(0, 200)}`);
        }
        await sleep(50);
      }
      ctx.log(`  ${cell.id} run ${r + 1}/${ctx.plan.runs} done`);
    }
    finalize(cell);
    cells.push(cell);
  }
  return cells;
}

async function measure(ctx: Ctx, sys: Live, size: number, warmup: boolean): Promise<HttpResult> {
  const address = sys.running.http;
  if (address === null) throw new Error('no http front');
  const pid = sys.running.proc?.pid ?? 0;
  if (ctx.wrk === null) {
    return ctx.load.http({
      connect: address,
      host: 'bench.test',
      path: `/${size}`,
      connections: ctx.plan.httpConnections,
      warmupMs: ctx.plan.warmupMs,
      durationMs: ctx.plan.durationMs,
      cpuPid: pid,
    });
  }
  return runWrk(ctx, ctx.wrk, `http://${address}/${size}`, warmup ? 1 : ctx.plan.httpSeconds, pid);
}

async function runWrk(ctx: Ctx, wrk: string, url: string, seconds: number, pid: number): Promise<HttpResult> {
  const lines: string[] = [];
  const cpu0 = pid > 0 ? readCpuSeconds(pid) : 0;
  const proc = Proc.start({
    name: 'wrk',
    cmd: wrk,
    args: [
      '-t1',
      `-c${ctx.plan.httpConnections}`,
      `-d${seconds}s`,
      '--latency',
      '-H',
      'Host: bench.test',
      url,
    ],
    cpu: ctx.env.loadCpu,
    onLine: (line) => lines.push(line),
  });
  const timer = setTimeout(() => void proc.stop(), seconds * 1000 + 15_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  const cpuSeconds = pid > 0 ? readCpuSeconds(pid) - cpu0 : 0;
  if (code !== 0) throw new Error(`wrk exited ${code}: ${proc.stderr().trim()}`);
  return parseWrk(lines.join('\n'), cpuSeconds);
}

export function parseWrk(out: string, cpuSeconds: number): HttpResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (total === null) throw new Error(`unexpected wrk output: ${out.slice(0, 300)}`);
  const latency = (pct: string): number => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (m === null) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1e3 : 1e6);
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors =
    Number(non2xx?.[1] ?? 0) + (socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0));
  const unit = total[3];
  const seconds = Number(total[2]) * (unit === 'us' ? 1e-6 : unit === 'ms' ? 1e-3 : unit === 'm' ? 60 : 1);
  return {
    requests: Number(total[1]),
    seconds,
    p50Us: latency('50'),
    p99Us: latency('99'),
    errors,
    cpuSeconds,
  };
}
