/**
 * `workers: 1`: everything in one process — the data path (App), the admin server, reload on SIGHUP or
 * file change, drain on SIGTERM. Resolves with the exit code.
 */
import { App } from '../app.js';
import { AdminServer } from '../admin/server.js';
import { appAdminSource, unboundListeners } from '../admin/app-source.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import { Metrics } from '../observe/metrics.js';
import { drain, drainTimings } from './drain.js';
import { Readiness } from './readiness.js';
import { describeReload, Reloader, restartOnlyChanges } from './reload.js';
import { installSignals } from './signals.js';

export interface RunOptions {
  readonly config: Config;
  /** undefined: the embedded default (nothing to reload). */
  readonly configFile: string | undefined;
  readonly logger: Logger;
  /** --log-level, which wins over the file's log.level on reload too. */
  readonly cliLogLevel: string | undefined;
}

export async function runSingleProcess(opts: RunOptions): Promise<number> {
  const log = opts.logger;
  const startedAt = Date.now();
  const metrics = new Metrics();
  const readiness = new Readiness();
  let app: App;
  try {
    app = await App.start(opts.config, { logger: log, metrics });
  } catch (err) {
    log.fatal({ err }, 'start failed');
    return 1;
  }
  readiness.add('listeners', () => unboundListeners(app));

  const reloader = new Reloader({
    file: opts.configFile,
    log,
    metrics,
    apply: async (config) => {
      warnRestartOnly(log, app.current().config, config);
      const summary = await app.reload(config);
      log.level = opts.cliLogLevel ?? config.log.level;
      return describeReload(summary);
    },
  });

  // Signals first: from the moment edge46 says it serves, SIGTERM and SIGHUP do what they should.
  let admin: AdminServer | null = null;
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (exit = resolve));
  const signals = installSignals({
    reload: (signal) => void reloader.trigger(signal),
    drain: (signal) => {
      reloader.close();
      log.info({ signal, open: app.connections }, 'shutting down');
      drain({
        ...drainTimings(app.current().config.drain),
        readiness,
        log,
        close: (graceMs) => app.close({ graceMs }),
        onDraining: () => metrics.draining.set(1),
      })
        .then(() => admin?.close())
        .then(
          () => {
            signals.dispose();
            exit(0);
          },
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            exit(1);
          },
        );
    },
    exitNow: (signal) => {
      log.warn({ signal, open: app.connections }, 'second signal: exiting now');
      process.exit(1);
    },
  });

  await reloader.start();
  try {
    admin = await AdminServer.start({
      address: opts.config.admin.address,
      log,
      source: appAdminSource(app, { readiness, startedAt, lastReload: () => reloader.last }),
    });
  } catch (err) {
    log.fatal({ err }, 'start failed');
    signals.dispose();
    reloader.close();
    await app.close({ graceMs: 0 });
    return 1;
  }
  return exited;
}

export function warnRestartOnly(log: Logger, before: Config, after: Config): void {
  const keys = restartOnlyChanges(before, after);
  if (keys.length > 0)
    log.warn({ keys }, `config reload: ${keys.join(', ')} change(s) take effect at the next start`);
}
