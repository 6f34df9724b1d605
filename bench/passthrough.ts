/**
 * Passthrough scenarios: (1) bulk after a real ClientHello, 1 and 8 streams, both directions at once;
 * (2) new connections per second, each a hello + a 64-byte answer; (4) idle connections' memory.
 * CPU is the proxy's user+sys from /proc/PID/stat over the measured window only (read by the C helper at
 * the window's edges), every thread included (the splice workers are threads of the edge46 process).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { finalize, newCell, record, rotate, type Cell } from './cells.js';
import type { Ctx } from './plan.js';
import type { Running, SystemId, SystemSpec } from './systems.js';

export interface Live {
  readonly id: SystemId;
  readonly running: Running;
}

export async function bulk(ctx: Ctx, systems: readonly Live[]): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const streams of ctx.plan.streams) {
    const cell = newCell(
      `bulk-${streams}`,
      'bulk',
      `TLS passthrough bulk after a ClientHello, ${streams} stream${streams > 1 ? 's' : ''}, both directions at once`,
      [
        { key: 'gbps', label: 'Gbit/s', better: 'higher', digits: 2 },
        { key: 'cpuPerGB', label: 'CPU-s/GB', better: 'lower', digits: 2 },
      ],
    );
    for (let r = 0; r < ctx.plan.runs; r++) {
      for (const sys of rotate(systems, r)) {
        const address = sys.running.tls;
        if (address === null) continue;
        try {
          const res = await ctx.load.bulk({
            connect: address,
            hello: ctx.env.hellos.a.path,
            streams,
            dir: 'both',
            warmupMs: ctx.plan.warmupMs,
            durationMs: ctx.plan.durationMs,
            cpuPid: sys.running.proc?.pid ?? 0,
          });
          const bytes = res.bytesDown + res.bytesUp;
          record(
            cell,
            sys.id,
            {
              gbps: (bytes * 8) / res.seconds / 1e9,
              cpuPerGB: sys.running.proc === null ? NaN : res.cpuSeconds / (bytes / 1e9),
              downGbps: (res.bytesDown * 8) / res.seconds / 1e9,
              upGbps: (res.bytesUp * 8) / res.seconds / 1e9,
            },
            res.errors > 0 ? `${res.errors} stream(s) ended early` : undefined,
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

export async function connectionRate(ctx: Ctx, systems: readonly Live[]): Promise<Cell> {
  const cell = newCell(
    'rate',
    'rate',
    `New passthrough connections/s (hello parse + route + ${ctx.env.dnsPort === null ? 'literal target' : 'cached AAAA'} + connect + 64 B answer), ${ctx.plan.rateConcurrency} concurrent`,
    [
      { key: 'connPerSec', label: 'conn/s', better: 'higher', digits: 0 },
      { key: 'cpuUsPerConn', label: 'CPU µs/conn', better: 'lower', digits: 1 },
    ],
  );
  for (let r = 0; r < ctx.plan.runs; r++) {
    for (const sys of rotate(systems, r)) {
      if (sys.running.tls === null) continue;
      try {
        const res = await ctx.load.rate({
          connect: sys.running.tls,
          hello: ctx.env.hellos.a.path,
          concurrency: ctx.plan.rateConcurrency,
          warmupMs: ctx.plan.warmupMs,
          durationMs: ctx.plan.durationMs,
          cpuPid: sys.running.proc?.pid ?? 0,
        });
        record(
          cell,
          sys.id,
          {
            connPerSec: res.connections / res.seconds,
            cpuUsPerConn: sys.running.proc === null ? NaN : (res.cpuSeconds * 1e6) / res.connections,
          },
          res.errors > 0 ? `${res.errors} failed exchange(s)` : undefined,
        );
      } catch (err) {
        record(cell, sys.id, {}, `failed: ${String(err).slice(0, 200)}`);
      }
      // Let the previous run's TIME_WAIT churn settle a little.
      await sleep(100);
    }
    ctx.log(`  rate run ${r + 1}/${ctx.plan.runs} done`);
  }
  finalize(cell);
  return cell;
}

/**
 * Each run starts a fresh instance: RSS after a warm-up of 200 connections (opened and closed), then
 * with `idleCount` open established passthrough connections; the difference per connection.
 */
export async function idleMemory(ctx: Ctx, specs: readonly SystemSpec[]): Promise<Cell> {
  const n = ctx.idleCount;
  const cell = newCell('idle', 'idle', `Idle passthrough connections: RSS per connection at ${n} open`, [
    { key: 'kibPerConn', label: 'KiB/conn', better: 'lower', digits: 2 },
    { key: 'rssMiB', label: `RSS MiB at ${n}`, better: 'lower', digits: 1 },
  ]);
  for (let r = 0; r < ctx.plan.idleRuns; r++) {
    for (const spec of rotate(specs, r)) {
      let running: Running | null = null;
      try {
        running = await spec.start(ctx.env);
        const proc = running.proc;
        const address = running.tls;
        if (proc === null || address === null) continue;
        const hold = (count: number) =>
          ctx.load.idle({ connect: address, hello: ctx.env.hellos.a.path, count, timeoutMs: 60_000 });
        const warm = await hold(200);
        await warm.release();
        await sleep(200);
        const before = proc.rssBytes();
        const held = await hold(n);
        await sleep(200);
        const after = proc.rssBytes();
        await held.release();
        record(
          cell,
          spec.id,
          { kibPerConn: (after - before) / held.established / 1024, rssMiB: after / 2 ** 20 },
          held.lost > 0 ? `${held.lost} connection(s) lost` : undefined,
        );
      } catch (err) {
        record(cell, spec.id, {}, `failed: ${String(err).slice(0, 200)}`);
      } finally {
        await running?.stop();
      }
    }
    ctx.log(`  idle run ${r + 1}/${ctx.plan.idleRuns} done`);
  }
  finalize(cell);
  return cell;
}
