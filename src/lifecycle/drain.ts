/**
 * Graceful drain (SIGTERM): /readyz fails at once, new connections are still accepted for the announce
 * window (load balancers and the kubelet need a few probe periods to take the node out), then the
 * listeners close, open connections get up to the timeout to finish, and what is left is reset.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../observe/logger.js';
import type { Readiness } from './readiness.js';

export interface DrainOptions {
  readonly announceMs: number;
  readonly timeoutMs: number;
  readonly readiness: Readiness;
  readonly log: Logger;
  /** Stops accepting, waits up to graceMs for open connections, resets the rest (App.close). */
  readonly close: (graceMs: number) => Promise<void>;
  /** Called once /readyz fails (metrics, forwarding to workers). */
  readonly onDraining?: () => void;
}

export async function drain(opts: DrainOptions): Promise<void> {
  opts.readiness.startDraining();
  opts.onDraining?.();
  opts.log.info(
    { announceMs: opts.announceMs, timeoutMs: opts.timeoutMs },
    'draining: /readyz fails now; still accepting during the announce window',
  );
  if (opts.announceMs > 0) await delay(opts.announceMs);
  opts.log.info('draining: announce window over, closing listeners');
  await opts.close(opts.timeoutMs);
}

/** Milliseconds from the config's seconds. */
export function drainTimings(drainConfig: {
  readonly announceSeconds: number;
  readonly timeoutSeconds: number;
}): {
  announceMs: number;
  timeoutMs: number;
} {
  return {
    announceMs: Math.round(drainConfig.announceSeconds * 1000),
    timeoutMs: Math.round(drainConfig.timeoutSeconds * 1000),
  };
}
