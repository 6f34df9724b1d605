/** The AdminSource of a process that runs the data path itself (single-process mode, tests). */
import type { App } from '../app.js';
import { packageVersion } from '../cli.js';
import type { Readiness } from '../lifecycle/readiness.js';
import type { ReloadRecord } from '../lifecycle/reload.js';
import type { AdminSource } from './server.js';
import { mergeStatus, processStatus } from './status.js';

export interface AppSourceOptions {
  readonly readiness: Readiness;
  /** The last reload, for the status page. */
  readonly lastReload?: () => ReloadRecord | null;
  readonly startedAt?: number;
}

export function appAdminSource(app: App, opts: AppSourceOptions): AdminSource {
  const startedAt = opts.startedAt ?? Date.now();
  return {
    metrics: async () => ({ contentType: app.metrics.registry.contentType, body: await app.metrics.text() }),
    readiness: () => opts.readiness.report(),
    status: () =>
      Promise.resolve(
        mergeStatus([processStatus(app, null)], {
          version: packageVersion(),
          mode: 'single',
          startedAt,
          readiness: opts.readiness.report(),
          workers: [],
          lastReload: opts.lastReload?.() ?? null,
        }),
      ),
  };
}

/** The readiness check for listeners: every configured listener is bound. */
export function unboundListeners(app: App): string | null {
  const closed = app.listenerStats().filter((l) => l.configured && l.bound === null);
  return closed.length === 0 ? null : `not bound: ${closed.map((l) => l.name).join(', ')}`;
}
