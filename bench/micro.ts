/**
 * Micro-benchmarks of the pure stages, in-process: parseClientHello on captured hellos and
 * RouteTable.lookup on a table of 1,000 exact names and 100 wildcards. Bounded by time and count.
 */
import { readFileSync } from 'node:fs';
import { validateConfig } from '../src/config/load.js';
import { RouteTable } from '../src/route/route-table.js';
import { parseClientHello } from '../src/sniff/tls-client-hello.js';

export interface MicroResult {
  readonly name: string;
  readonly opsPerSec: number;
}

const BATCH = 1_000;
const MAX_BATCHES = 1_000_000;

function bench(name: string, ms: number, fn: () => unknown): MicroResult {
  let sink = 0;
  const run = (budgetMs: number): { ops: number; seconds: number } => {
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(budgetMs * 1e6));
    let batches = 0;
    let now = start;
    while (now < end && batches < MAX_BATCHES) {
      for (let i = 0; i < BATCH; i++) if (fn() !== undefined) sink++;
      batches++;
      now = process.hrtime.bigint();
    }
    return { ops: batches * BATCH, seconds: Number(now - start) / 1e9 };
  };
  run(ms / 4); // warm-up: let the JIT settle
  const { ops, seconds } = run(ms);
  if (sink < 0) console.log(sink);
  return { name, opsPerSec: Math.round(ops / seconds) };
}

export function micro(ms: number): MicroResult[] {
  const dir = new URL('../../test/fixtures/client-hellos/', import.meta.url);
  const hellos = ['openssl-sni', 'curl', 'openssl-large-multi-record'].map((n) => ({
    n,
    bytes: readFileSync(new URL(`${n}.bin`, dir)),
  }));
  const out: MicroResult[] = [];
  for (const h of hellos) {
    out.push(bench(`parseClientHello ${h.n} (${h.bytes.length} B)`, ms, () => parseClientHello(h.bytes)));
  }
  const routes = [
    ...Array.from({ length: 1000 }, (_, i) => ({ host: `svc${i}.ns.c2.example`, target: '{host}' })),
    ...Array.from({ length: 100 }, (_, i) => ({
      host: `*.apps${i}.example`,
      target: '{sub}.svc.c2.example',
    })),
  ];
  const validated = validateConfig({
    listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls' }],
    routes,
  });
  if (!validated.ok) throw new Error('micro: route config invalid');
  const table = RouteTable.build(validated.config.routes);
  out.push(bench('RouteTable.lookup exact (1,100 routes)', ms, () => table.lookup('svc500.ns.c2.example')));
  out.push(bench('RouteTable.lookup wildcard', ms, () => table.lookup('a.b.apps50.example')));
  out.push(bench('RouteTable.lookup miss', ms, () => table.lookup('nothing.example.org')));
  return out;
}
