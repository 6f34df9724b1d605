/**
 * /readyz: ready when every check passes and edge46 is not draining. The core registers its checks
 * (listeners bound, config loaded); later components add their own (e.g. a Kubernetes watch synced)
 * with add().
 */

/** Returns null when fine, else why not (shown in /readyz and on the status page). */
export type ReadinessCheck = () => string | null;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly draining: boolean;
  /** Checks that fail, with their reason; "draining" first while draining. */
  readonly failing: readonly { readonly check: string; readonly reason: string }[];
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private drainingSince: number | null = null;

  /** Adds (or replaces) a named check. */
  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  remove(name: string): void {
    this.checks.delete(name);
  }

  /** From now on /readyz fails; there is no way back (a drain ends in exit). */
  startDraining(now = Date.now()): void {
    this.drainingSince ??= now;
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  report(): ReadinessReport {
    const failing: { check: string; reason: string }[] = [];
    if (this.drainingSince !== null) failing.push({ check: 'draining', reason: 'shutting down (SIGTERM)' });
    for (const [check, fn] of this.checks) {
      let reason: string | null;
      try {
        reason = fn();
      } catch (err) {
        reason = `check failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (reason !== null) failing.push({ check, reason });
    }
    return { ready: failing.length === 0, draining: this.drainingSince !== null, failing };
  }
}
