/** Per-connection context: identity, the child logger, and phase timings (STYLE.md §4). */
import type { Logger } from '../observe/logger.js';
import type { EffectiveClient } from './client-address.js';

export type Phase = 'sniff' | 'resolve' | 'connect' | 'total';

let lastId = 0;

/** Connection ids are unique per process; logs carry them as `conn`. */
export function nextConnectionId(): number {
  lastId += 1;
  return lastId;
}

export class ConnectionContext {
  readonly startedAt: number;
  readonly timings: Partial<Record<Phase, number>> = {};
  private phaseStart: number;

  constructor(
    readonly id: number,
    readonly listener: string,
    readonly client: string,
    readonly clientPort: number,
    readonly log: Logger,
    /** How `client` was decided (accept/client-address.ts); absent in hand-built contexts. */
    readonly clientAddress?: EffectiveClient,
  ) {
    this.startedAt = performance.now();
    this.phaseStart = this.startedAt;
  }

  /** Records the time since the previous mark as `phase` (milliseconds, 0.1 ms resolution). */
  mark(phase: Exclude<Phase, 'total'>): void {
    const now = performance.now();
    this.timings[phase] = round(now - this.phaseStart);
    this.phaseStart = now;
  }

  total(): number {
    this.timings.total = round(performance.now() - this.startedAt);
    return this.timings.total;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
