/**
 * What the admin server shows, as plain JSON-able data: one ProcessStatus per process that runs the
 * data path (the single process, or each cluster worker, sent over IPC), merged into one StatusView by
 * the process that owns the admin server.
 */
import type { App, ListenerStat } from '../app.js';
import type { ReloadRecord } from '../lifecycle/reload.js';
import type { ReadinessReport } from '../lifecycle/readiness.js';
import type { RecentError } from '../observe/recent-errors.js';
import type { CacheSnapshotEntry } from '../resolve/resolver.js';
import { attributeResolutions, type RouteView } from './routes-view.js';
import type { CertificateInfo } from '../tls/cert-store.js';

export interface ProcessStatus {
  readonly pid: number;
  /** Cluster worker id; null in single-process mode. */
  readonly worker: number | null;
  readonly listeners: readonly ListenerStat[];
  readonly routes: readonly RouteView[];
  /** Cached resolutions no route could be matched to (e.g. the route was removed by a reload). */
  readonly otherResolutions: readonly CacheSnapshotEntry[];
  readonly recentErrors: readonly RecentError[];
  readonly connections: number;
  readonly certificates: readonly CertificateInfo[];
}

/** A cluster worker as the primary sees it. */
export interface WorkerInfo {
  readonly id: number;
  readonly pid: number;
  readonly state: 'starting' | 'ready' | 'draining';
  /** Epoch milliseconds. */
  readonly since: number;
  readonly restarts: number;
}

/** The certificates terminate routes are served with, as the certificate store describes them. */
export type { CertificateInfo };

export interface StatusView {
  readonly version: string;
  readonly mode: 'single' | 'cluster';
  readonly pid: number;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly generatedAt: number;
  readonly readiness: ReadinessReport;
  readonly workers: readonly WorkerInfo[];
  readonly listeners: readonly ListenerStat[];
  readonly connections: number;
  readonly routes: readonly RouteView[];
  readonly otherResolutions: readonly CacheSnapshotEntry[];
  readonly recentErrors: readonly RecentError[];
  readonly lastReload: ReloadRecord | null;
  readonly certificates: readonly CertificateInfo[];
}

export function processStatus(app: App, worker: number | null): ProcessStatus {
  const state = app.current();
  const { routes, other } = attributeResolutions(state.routes, state.resolver.snapshot());
  return {
    pid: process.pid,
    worker,
    listeners: app.listenerStats(),
    routes,
    otherResolutions: other,
    recentErrors: app.metrics.recentErrors.list(),
    connections: app.connections,
    certificates: app.terminator?.certificates.describe() ?? [],
  };
}

/** Errors shown on the page and in /status. */
const RECENT_ERRORS_SHOWN = 25;

export interface MergeContext {
  readonly version: string;
  readonly mode: 'single' | 'cluster';
  readonly startedAt: number;
  readonly readiness: ReadinessReport;
  readonly workers: readonly WorkerInfo[];
  readonly lastReload: ReloadRecord | null;
}

/**
 * Merges the processes' views: listener connection counts are summed, routes come from the first
 * process (all run the same config), each process's cached resolutions are listed (tagged with the
 * worker in cluster mode: every worker has its own cache), errors are merged newest first.
 */
export function mergeStatus(parts: readonly ProcessStatus[], ctx: MergeContext): StatusView {
  const listeners = new Map<string, ListenerStat>();
  for (const part of parts) {
    for (const l of part.listeners) {
      const key = `${l.name}\0${l.address}\0${String(l.configured)}`;
      const seen = listeners.get(key);
      listeners.set(
        key,
        seen === undefined
          ? l
          : { ...seen, connections: seen.connections + l.connections, bound: seen.bound ?? l.bound },
      );
    }
  }
  const tag = <T extends object>(entry: T, worker: number | null): T =>
    worker === null ? entry : { ...entry, worker };
  const routes = (parts[0]?.routes ?? []).map((route) => ({
    ...route,
    resolutions: parts.flatMap((p) =>
      (p.routes.find((r) => r.pattern === route.pattern)?.resolutions ?? []).map((r) => tag(r, p.worker)),
    ),
  }));
  return {
    version: ctx.version,
    mode: ctx.mode,
    pid: process.pid,
    startedAt: ctx.startedAt,
    generatedAt: Date.now(),
    readiness: ctx.readiness,
    workers: ctx.workers,
    listeners: [...listeners.values()],
    connections: parts.reduce((sum, p) => sum + p.connections, 0),
    routes,
    otherResolutions: parts.flatMap((p) => p.otherResolutions.map((r) => tag(r, p.worker))),
    recentErrors: parts
      .flatMap((p) => p.recentErrors.map((e) => tag(e, p.worker)))
      .sort((a, b) => b.at - a.at)
      .slice(0, RECENT_ERRORS_SHOWN),
    lastReload: ctx.lastReload,
    // Every process loads the same files; self-signed stand-ins differ per worker (development only).
    certificates: parts[0]?.certificates ?? [],
  };
}
