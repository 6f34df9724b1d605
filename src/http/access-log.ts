/**
 * The one access-log line per HTTP request (STYLE.md §4 phases): client and listener come from the
 * connection's child logger; the record adds host, method, path (escaped, length-capped), status, body
 * bytes each way, route, backend address, durations (resolve, connect, ttfb, total) and the outcome.
 */
import { performance } from 'node:perf_hooks';
import { describeOutcome, type OutcomeDescription } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { escapeForLog } from '../route/hostname.js';

/** Longest path written to the log (characters before escaping). */
export const MAX_LOGGED_PATH = 1_024;

export interface Durations {
  resolve?: number;
  connect?: number;
  ttfb?: number;
  total?: number;
}

/** Where a finished request is reported: the connection's logger and the listener's metrics. */
export interface RequestSink {
  readonly log: Logger;
  readonly listener: string;
  readonly metrics: Metrics | undefined;
}

export class AccessRecord {
  readonly startedAt = performance.now();
  host: string | undefined;
  method: string | undefined;
  path: string | undefined;
  status = 0;
  /** Request body bytes sent to the backend (for an upgrade: every byte after the head). */
  bytesIn = 0;
  /** Response body bytes sent to the client (for an upgrade: every byte after the 101 head). */
  bytesOut = 0;
  route: string | undefined;
  target: string | undefined;
  upstream: string | undefined;
  reused: boolean | undefined;
  upgrade: string | undefined;
  /** Sent a second time after a pooled connection failed before any answer. */
  retried: boolean | undefined;
  /** The NAT46 source address the backend connection was dialled from (client-bound connections). */
  source: string | undefined;
  /** The PROXY protocol version sent ahead of the backend connection's first request. */
  proxyProtocol: string | undefined;
  readonly durations: Durations = {};
  #logged = false;

  /** Milliseconds since the request started, 0.1 ms resolution. */
  elapsed(): number {
    return round(performance.now() - this.startedAt);
  }

  /** Writes the line once; later calls are ignored. `failure` null: the request was served. */
  write(sink: RequestSink, failure: unknown, extra: Record<string, unknown> = {}): void {
    if (this.#logged) return;
    this.#logged = true;
    this.durations.total = this.elapsed();
    sink.metrics?.recordHttpRequest(sink.listener, this.status, this.durations.total / 1000);
    const log = sink.log;
    const fields: Record<string, unknown> = {
      host: this.host === undefined ? undefined : escapeForLog(this.host),
      method: this.method === undefined ? undefined : escapeForLog(this.method, 32),
      path: this.path === undefined ? undefined : escapeForLog(this.path, MAX_LOGGED_PATH),
      status: this.status,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      route: this.route,
      target: this.target,
      upstream: this.upstream,
      reused: this.reused,
      upgrade: this.upgrade,
      retried: this.retried,
      source: this.source,
      proxyProtocol: this.proxyProtocol,
      durations: this.durations,
      ...extra,
    };
    if (failure === null) {
      log.info({ ...fields, outcome: 'ok' }, 'request');
      return;
    }
    const d: OutcomeDescription = describeOutcome(failure);
    const level = d.code === 'EDGE_INTERNAL' ? 'error' : 'info';
    log[level]({ ...fields, outcome: d.outcome, code: d.code, reason: d.message }, 'request');
  }
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
