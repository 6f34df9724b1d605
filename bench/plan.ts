/**
 * How long and how often: the default run (≤ 5 min on 2 cores), --quick (≤ 60 s, single runs: a smell
 * test, not a result) and --smoke (a few seconds, edge46 and direct only, for the test suite).
 */
import type { BenchEnv } from './env.js';
import type { LoadHelper } from './load.js';

export type Mode = 'full' | 'quick' | 'smoke';

export interface Plan {
  readonly mode: Mode;
  /** Measured runs per cell (alternating order); warm-up excluded. */
  readonly runs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly streams: readonly number[];
  readonly rateConcurrency: number;
  readonly idleRuns: number;
  /** wrk's -d (whole seconds); the C loader uses durationMs. */
  readonly httpSeconds: number;
  readonly httpConnections: number;
  readonly microMs: number;
}

export function makePlan(mode: Mode): Plan {
  if (mode === 'smoke') {
    return {
      mode,
      runs: 1,
      warmupMs: 100,
      durationMs: 250,
      streams: [1],
      rateConcurrency: 4,
      idleRuns: 1,
      httpSeconds: 1,
      httpConnections: 10,
      microMs: 50,
    };
  }
  if (mode === 'quick') {
    return {
      mode,
      runs: 1,
      warmupMs: 150,
      durationMs: 500,
      streams: [1, 8],
      rateConcurrency: 16,
      idleRuns: 1,
      httpSeconds: 1,
      httpConnections: 50,
      microMs: 150,
    };
  }
  return {
    mode,
    runs: 3,
    warmupMs: 300,
    durationMs: 1500,
    streams: [1, 8],
    rateConcurrency: 16,
    idleRuns: 3,
    httpSeconds: 2,
    httpConnections: 50,
    microMs: 400,
  };
}

export interface Ctx {
  readonly env: BenchEnv;
  readonly plan: Plan;
  readonly load: LoadHelper;
  /** Idle scenario size (10k, bounded by the fd limit; fewer in quick and smoke modes). */
  readonly idleCount: number;
  readonly wrk: string | null;
  log(message: string): void;
}
