/**
 * Results: one Cell per scenario and parameter (e.g. bulk with 8 streams), each system's runs, their
 * medians, and ratios of every system's median against each baseline measured in the same run.
 */
import type { SystemId } from './systems.js';

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly better: 'higher' | 'lower';
  readonly digits: number;
}

export interface SystemCell {
  readonly system: SystemId;
  readonly runs: Record<string, number>[];
  median: Record<string, number>;
  readonly notes: string[];
}

export interface Cell {
  readonly id: string;
  readonly scenario: 'bulk' | 'rate' | 'http' | 'idle';
  readonly title: string;
  readonly metrics: readonly Metric[];
  readonly systems: SystemCell[];
  /** system → metric → baseline → system median / baseline median */
  ratios: Record<string, Record<string, Record<string, number>>>;
}

export const BASELINES: readonly SystemId[] = [
  'direct',
  'node-http-proxy',
  'haproxy-splice',
  'haproxy',
  'nginx',
  'sniproxy',
];

export function newCell(
  id: string,
  scenario: Cell['scenario'],
  title: string,
  metrics: readonly Metric[],
): Cell {
  return { id, scenario, title, metrics, systems: [], ratios: {} };
}

export function record(cell: Cell, system: SystemId, run: Record<string, number>, note?: string): void {
  let entry = cell.systems.find((s) => s.system === system);
  if (entry === undefined) {
    entry = { system, runs: [], median: {}, notes: [] };
    cell.systems.push(entry);
  }
  entry.runs.push(run);
  if (note !== undefined && !entry.notes.includes(note)) entry.notes.push(note);
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? Number.NaN) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

export function finalize(cell: Cell): void {
  for (const s of cell.systems) {
    s.median = Object.fromEntries(
      cell.metrics.map((m) => [m.key, median(s.runs.map((r) => r[m.key] ?? NaN))]),
    );
  }
  cell.ratios = {};
  for (const s of cell.systems) {
    const perMetric: Record<string, Record<string, number>> = {};
    for (const m of cell.metrics) {
      const vs: Record<string, number> = {};
      for (const b of cell.systems) {
        if (b.system === s.system || !BASELINES.includes(b.system)) continue;
        const ratio = (s.median[m.key] ?? NaN) / (b.median[m.key] ?? NaN);
        if (Number.isFinite(ratio)) vs[b.system] = round(ratio, 3);
      }
      perMetric[m.key] = vs;
    }
    cell.ratios[s.system] = perMetric;
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Run r visits the systems starting at a different one each time (alternating order). */
export function rotate<T>(list: readonly T[], r: number): T[] {
  if (list.length === 0) return [];
  const k = r % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
