/**
 * The last few failed connections, kept for the admin status page (a person at a browser wants to see
 * what just went wrong without grepping logs). Bounded ring; names from the wire are stored as text
 * and escaped where they are rendered.
 */
import type { Outcome } from '../errors.js';

export interface RecentError {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly listener: string;
  readonly outcome: Outcome;
  readonly code: string | null;
  readonly reason: string | null;
  readonly sni: string | null;
  readonly route: string | null;
  /** Set by the cluster primary when merging workers' lists. */
  readonly worker?: number;
}

export interface RecentErrorInput {
  readonly listener: string;
  readonly outcome: Outcome;
  readonly code?: string | undefined;
  readonly reason?: string | undefined;
  readonly sni?: string | null | undefined;
  readonly route?: string | undefined;
}

/** Longest reason kept; a reason quoting a hostile name must not bloat the page. */
const MAX_REASON = 300;

export class RecentErrors {
  private readonly ring: (RecentError | undefined)[];
  private next = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new Array<RecentError | undefined>(Math.max(1, capacity));
  }

  add(input: RecentErrorInput): void {
    this.ring[this.next] = {
      at: this.now(),
      listener: input.listener,
      outcome: input.outcome,
      code: input.code ?? null,
      reason: input.reason === undefined ? null : input.reason.slice(0, MAX_REASON),
      sni: input.sni ?? null,
      route: input.route ?? null,
    };
    this.next = (this.next + 1) % this.ring.length;
    this.count = Math.min(this.count + 1, this.ring.length);
  }

  /** Newest first. */
  list(): RecentError[] {
    const out: RecentError[] = [];
    for (let i = 1; i <= this.count; i++) {
      const entry = this.ring[(this.next - i + this.ring.length) % this.ring.length];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }
}
