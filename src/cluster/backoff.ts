/**
 * Restart back-off for dying workers: the delay doubles with every death inside the window (100 ms,
 * 200 ms, 400 ms … up to 30 s) and falls back once workers stay up, so one crash restarts at once and a
 * crash loop does not burn the CPUs the surviving workers need.
 */
export interface BackoffOptions {
  readonly baseMs?: number;
  readonly maxMs?: number;
  /** Deaths older than this no longer count. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

export class RestartBackoff {
  private readonly deaths: number[] = [];
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 100;
    this.maxMs = opts.maxMs ?? 30_000;
    this.windowMs = opts.windowMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Records a death and returns how long to wait before the replacement starts. */
  next(): number {
    const now = this.now();
    while (this.deaths.length > 0 && (this.deaths[0] ?? now) <= now - this.windowMs) this.deaths.shift();
    this.deaths.push(now);
    const exponent = Math.min(this.deaths.length - 1, 30);
    return Math.min(this.maxMs, this.baseMs * 2 ** exponent);
  }
}
