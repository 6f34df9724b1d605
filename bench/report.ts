/**
 * The run's output: markdown tables (printed, written next to the JSON, and spliced into bench/README.md
 * between its markers for full runs) and the machine-readable JSON.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cell } from './cells.js';
import type { Machine } from './machine.js';
import type { MicroResult } from './micro.js';
import type { Plan } from './plan.js';
import type { SystemId } from './systems.js';
import type { TargetResult } from './targets.js';

export interface SystemStatus {
  readonly label: string;
  readonly version: string;
  /** "ok", "skipped: …" or "failed: …". */
  status: string;
}

export interface Results {
  readonly schema: 1;
  readonly date: string;
  readonly mode: Plan['mode'];
  readonly plan: Plan;
  readonly machine: Machine;
  readonly systems: Partial<Record<SystemId, SystemStatus>>;
  readonly scenarios: readonly Cell[];
  readonly micro: readonly MicroResult[];
  readonly targets: readonly TargetResult[];
  readonly seconds: number;
}

const START = '<!-- bench:latest:start -->';
const END = '<!-- bench:latest:end -->';

const PARAM: Record<string, string> = {
  'bulk-1': '1 stream',
  'bulk-8': '8 streams',
  'http-100': '100 B',
  'http-65536': '64 KiB',
};

function fmt(x: number | undefined, digits: number): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function group(
  title: string,
  cells: readonly Cell[],
  baselines: readonly SystemId[],
  systems: Results['systems'],
): string {
  if (cells.length === 0) return '';
  const order: SystemId[] = [];
  for (const c of cells) for (const s of c.systems) if (!order.includes(s.system)) order.push(s.system);
  const present = baselines.filter((b) => order.includes(b));
  const header = [
    'system',
    ...cells.flatMap((c) => c.metrics.map((m) => `${PARAM[c.id] ?? ''} ${m.label}`.trim())),
    ...present.map(
      (b) =>
        `× ${systems[b]?.label ?? b}${cells.length > 1 ? ` (${cells.map((c) => PARAM[c.id] ?? c.id).join(' / ')})` : ''}`,
    ),
  ];
  const notes: string[] = [];
  const rows = order.map((sys) => {
    const values = cells.flatMap((c) => {
      const s = c.systems.find((x) => x.system === sys);
      for (const n of s?.notes ?? [])
        notes.push(`${systems[sys]?.label ?? sys}, ${PARAM[c.id] ?? c.id}: ${n}`);
      return c.metrics.map((m) => fmt(s?.median[m.key], m.digits));
    });
    const ratios = present.map((b) =>
      b === sys
        ? '1'
        : cells
            .map((c) => {
              const primary = c.metrics[0]?.key ?? '';
              const r = c.ratios[sys]?.[primary]?.[b];
              return r === undefined ? '–' : `${fmt(r, 2)}×`;
            })
            .join(' / '),
    );
    return [systems[sys]?.label ?? sys, ...values, ...ratios];
  });
  const titleLine = `### ${title}\n\n${cells.map((c) => `${c.title}.`).join(' ')}\n\n`;
  const noteText = notes.length === 0 ? '' : `\n\n${notes.map((n) => `- ${n}`).join('\n')}`;
  return `${titleLine}${table(header, rows)}${noteText}`;
}

export function renderMarkdown(r: Results): string {
  const by = (s: Cell['scenario']) => r.scenarios.filter((c) => c.scenario === s);
  const peers: SystemId[] = ['haproxy-splice', 'haproxy', 'nginx', 'sniproxy', 'direct'];
  const m = r.machine;
  const parts = [
    `## ${r.date} — ${r.mode} run (${Math.round(r.seconds)} s)`,
    `Machine: ${m.cpu}, ${m.cpus} CPUs, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}. Pinning: ${m.pinning}. ` +
      `fd limit ${m.nofile}. Load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end. ` +
      `${r.plan.runs} measured run(s) per cell in alternating order, medians shown; warm-up excluded ` +
      `(${r.plan.warmupMs} ms, then ${r.plan.durationMs} ms measured${r.mode === 'full' ? `; HTTP: a 1 s wrk warm-up, then ${r.plan.httpSeconds} s runs` : ''}). ` +
      'CPU: the proxy process’s user+sys from /proc/PID/stat over the measured window, all threads.',
    table(
      ['system', 'version', 'status'],
      Object.values(r.systems).map((s) => [s.label, s.version, s.status]),
    ),
    group('TLS passthrough bulk', by('bulk'), peers, r.systems),
    group('New passthrough connections', by('rate'), peers, r.systems),
    group('HTTP keep-alive', by('http'), ['node-http-proxy', 'nginx', 'haproxy', 'direct'], r.systems),
    group('Idle connections', by('idle'), [], r.systems),
  ];
  if (r.micro.length > 0) {
    parts.push(
      '### Micro-benchmarks (in-process, load CPU)',
      table(
        ['operation', 'ops/s'],
        r.micro.map((x) => [x.name, fmt(x.opsPerSec, 0)]),
      ),
    );
  }
  parts.push(
    '### Targets (issue 7)',
    table(
      ['target', 'measured', 'met'],
      r.targets.map((t) => [
        t.text,
        t.measured === null ? '–' : t.baseline === null ? `${fmt(t.measured, 2)}` : `${fmt(t.measured, 2)}×`,
        t.met === null ? 'not measured' : t.met ? 'yes' : 'no',
      ]),
    ),
  );
  return `${parts.filter((p) => p !== '').join('\n\n')}\n`;
}

/** Writes <dir>/<stamp>.json and .md; returns their paths. */
export function writeResults(dir: string, r: Results, markdown: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = r.date.replace(/:/g, '').replace(/\.\d+Z$/, 'Z') + (r.mode === 'full' ? '' : `-${r.mode}`);
  const json = join(dir, `${stamp}.json`);
  const md = join(dir, `${stamp}.md`);
  writeFileSync(
    json,
    `${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  );
  writeFileSync(md, `${markdown}\n`);
  return { json, md };
}

/** Replaces the README's latest-results section (between its markers). */
export function updateReadme(readme: string, markdown: string, jsonName: string): void {
  if (!existsSync(readme)) return;
  const text = readFileSync(readme, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  const section = `${START}\n${markdown.replace(/^## /, '## Latest: ')}\nRaw data: [results/${jsonName}](results/${jsonName}).\n${END}`;
  writeFileSync(readme, text.slice(0, a) + section + text.slice(b + END.length));
}
