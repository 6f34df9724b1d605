/** The targets for the pipe core and the HTTP path, checked against one run's medians. */
import type { Cell } from './cells.js';
import type { SystemId } from './systems.js';

interface TargetDef {
  readonly id: string;
  readonly text: string;
  readonly cell: string;
  readonly system: SystemId;
  readonly metric: string;
  /** Ratio against this baseline's median; null: the absolute median. */
  readonly baseline: SystemId | null;
  readonly op: '>=' | '<=';
  readonly threshold: number;
}

export interface TargetResult extends TargetDef {
  readonly measured: number | null;
  readonly met: boolean | null;
}

const DEFS: readonly TargetDef[] = [
  ...[1, 8].flatMap((n): TargetDef[] => [
    {
      id: `splice-gbps-${n}`,
      text: `splice Gbit/s, ${n} stream${n > 1 ? 's' : ''} ≥ ${n === 1 ? '1.0' : '1.2'}× HAProxy splice`,
      cell: `bulk-${n}`,
      system: 'edge46-splice',
      metric: 'gbps',
      baseline: 'haproxy-splice',
      op: '>=',
      threshold: n === 1 ? 1.0 : 1.2,
    },
    {
      id: `splice-cpu-${n}`,
      text: `splice CPU-s/GB, ${n} stream${n > 1 ? 's' : ''} ≤ HAProxy splice`,
      cell: `bulk-${n}`,
      system: 'edge46-splice',
      metric: 'cpuPerGB',
      baseline: 'haproxy-splice',
      op: '<=',
      threshold: 1.0,
    },
    {
      id: `js-gbps-${n}`,
      text: `js Gbit/s, ${n} stream${n > 1 ? 's' : ''} ≥ 1.15× HAProxy without splice`,
      cell: `bulk-${n}`,
      system: 'edge46-js',
      metric: 'gbps',
      baseline: 'haproxy',
      op: '>=',
      threshold: 1.15,
    },
  ]),
  {
    id: 'idle-splice',
    text: 'idle RSS per passthrough connection ≤ 16 KiB (splice)',
    cell: 'idle',
    system: 'edge46-splice',
    metric: 'kibPerConn',
    baseline: null,
    op: '<=',
    threshold: 16,
  },
  {
    id: 'idle-js',
    text: 'idle RSS per passthrough connection ≤ 16 KiB (js)',
    cell: 'idle',
    system: 'edge46-js',
    metric: 'kibPerConn',
    baseline: null,
    op: '<=',
    threshold: 16,
  },
  {
    id: 'http-100-rps',
    text: 'HTTP 100 B req/s ≥ 2.5× node-http-proxy',
    cell: 'http-100',
    system: 'edge46-splice',
    metric: 'reqPerSec',
    baseline: 'node-http-proxy',
    op: '>=',
    threshold: 2.5,
  },
  {
    id: 'http-100-cpu',
    text: 'HTTP 100 B CPU µs/req ≤ 1.5× nginx',
    cell: 'http-100',
    system: 'edge46-splice',
    metric: 'cpuUsPerReq',
    baseline: 'nginx',
    op: '<=',
    threshold: 1.5,
  },
  {
    id: 'http-64k-rps',
    text: 'HTTP 64 KiB req/s ≥ 0.6× nginx',
    cell: 'http-65536',
    system: 'edge46-splice',
    metric: 'reqPerSec',
    baseline: 'nginx',
    op: '>=',
    threshold: 0.6,
  },
];

export function checkTargets(cells: readonly Cell[]): TargetResult[] {
  return DEFS.map((d) => {
    const cell = cells.find((c) => c.id === d.cell);
    const sys = cell?.systems.find((s) => s.system === d.system);
    let measured: number | null = null;
    if (cell !== undefined && sys !== undefined) {
      const value =
        d.baseline === null ? sys.median[d.metric] : cell.ratios[d.system]?.[d.metric]?.[d.baseline];
      if (value !== undefined && Number.isFinite(value)) measured = value;
    }
    const met = measured === null ? null : d.op === '>=' ? measured >= d.threshold : measured <= d.threshold;
    return { ...d, measured, met };
  });
}
