/**
 * The IPC protocol between the cluster primary and its workers. Configs travel as validated plain
 * data (the worker validates again before use, so a worker never runs an unchecked object).
 */
import type { Registry } from 'prom-client';
import type { ProcessStatus } from '../admin/status.js';

const PREFIX = 'edge46:';

export type ToWorker =
  /** ticketSeed: base64 secret every worker derives the same session ticket keys from. */
  | { readonly type: 'edge46:start'; readonly config: unknown; readonly ticketSeed: string }
  | { readonly type: 'edge46:reload'; readonly seq: number; readonly config: unknown }
  | { readonly type: 'edge46:drain'; readonly announceMs: number; readonly timeoutMs: number }
  | { readonly type: 'edge46:request'; readonly id: number; readonly what: 'metrics' | 'status' };

/** A worker registry's getMetricsAsJSON(), the input of AggregatorRegistry.aggregate. */
export type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type FromWorker =
  /** The worker listens for messages now (messages sent before that are lost): send the config. */
  | { readonly type: 'edge46:hello' }
  | { readonly type: 'edge46:ready' }
  | { readonly type: 'edge46:start-failed'; readonly error: string }
  | {
      readonly type: 'edge46:reloaded';
      readonly seq: number;
      readonly error: string | null;
      readonly summary: string;
    }
  | { readonly type: 'edge46:response'; readonly id: number; readonly value: WorkerMetrics | ProcessStatus };

/** Messages of ours (prom-client and node's cluster internals share the channel). */
export function isOurs<T extends { type: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith(PREFIX)
  );
}
