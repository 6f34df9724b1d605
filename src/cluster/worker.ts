/**
 * A cluster worker: runs the data path (App) behind the listeners the primary shares, and obeys the
 * primary: start with a config, reload to a new one, drain, answer metrics and status requests.
 * It owns no admin server and reads no config file: the primary validated what it sends (the worker
 * validates again before use).
 */
import cluster from 'node:cluster';
import { App } from '../app.js';
import { processStatus } from '../admin/status.js';
import { formatProblems, validateConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { drain } from '../lifecycle/drain.js';
import { Readiness } from '../lifecycle/readiness.js';
import { describeReload } from '../lifecycle/reload.js';
import { installSignals } from '../lifecycle/signals.js';
import { createLogger, type LogFormat, type Logger } from '../observe/logger.js';
import { Metrics } from '../observe/metrics.js';
import { isOurs, type FromWorker, type ToWorker } from './messages.js';

export interface WorkerOptions {
  readonly cliLogLevel: string | undefined;
  readonly cliLogFormat: LogFormat | undefined;
}

/** Without a start message from the primary within this, the worker gives up. */
const START_TIMEOUT_MS = 30_000;

export async function runWorker(opts: WorkerOptions): Promise<number> {
  const id = cluster.worker?.id ?? 0;
  const firstMessage = nextMessage(START_TIMEOUT_MS);
  send({ type: 'edge46:hello' });
  const first = await firstMessage;
  if (first === null || first.type !== 'edge46:start') {
    process.stderr.write(`edge46 worker ${id}: no start message from the primary\n`);
    return 1;
  }
  const checked = checkConfig(first.config);
  if (typeof checked === 'string') {
    send({ type: 'edge46:start-failed', error: checked });
    return 1;
  }
  const config = checked;
  const root = createLogger({
    level: (opts.cliLogLevel ?? config.log.level) as Config['log']['level'],
    format: opts.cliLogFormat ?? config.log.format,
  });
  const log = root.child({ worker: id });
  const metrics = new Metrics();
  // A drain ordered while the listeners are still being bound is kept and obeyed once they are.
  let earlyDrain: { announceMs: number; timeoutMs: number } | null = null;
  const onEarly = (message: unknown): void => {
    if (isOurs<ToWorker>(message) && message.type === 'edge46:drain') earlyDrain = message;
  };
  process.on('message', onEarly);
  let app: App;
  try {
    app = await App.start(config, {
      logger: log,
      metrics,
      ticketSeed: Buffer.from(first.ticketSeed, 'base64'),
    });
  } catch (err) {
    log.fatal({ err }, 'worker start failed');
    send({ type: 'edge46:start-failed', error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
  const readiness = new Readiness();

  return new Promise<number>((resolve) => {
    let draining: Promise<void> | null = null;
    const startDrain = (announceMs: number, timeoutMs: number, why: string): void => {
      signals.markStopping();
      draining ??= drain({
        announceMs,
        timeoutMs,
        readiness,
        log,
        close: (graceMs) => app.close({ graceMs }),
        onDraining: () => metrics.draining.set(1),
      }).then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err, why }, 'worker drain failed');
          resolve(1);
        },
      );
    };
    const ownDrain = (why: string): void => {
      const d = app.current().config.drain;
      startDrain(d.announceSeconds * 1000, d.timeoutSeconds * 1000, why);
    };
    // The primary coordinates: a signal sent to the whole process group (Ctrl-C) reaches it too. A
    // SIGTERM sent to this worker alone drains just this worker (the primary then replaces it).
    const signals = installSignals({
      reload: () => log.info('SIGHUP ignored by a worker: send it to the primary'),
      drain: (signal) => ownDrain(signal),
      exitNow: (signal) => {
        log.warn({ signal }, 'second signal: worker exiting now');
        process.exit(1);
      },
    });
    process.on('disconnect', () => {
      if (draining !== null) return;
      log.warn('primary is gone: draining without announce');
      const d = app.current().config.drain;
      startDrain(0, d.timeoutSeconds * 1000, 'primary gone');
    });
    process.on('message', (message: unknown) => {
      if (!isOurs<ToWorker>(message)) return;
      switch (message.type) {
        case 'edge46:reload':
          void reload(app, log, root, opts, message.seq, message.config);
          return;
        case 'edge46:drain':
          startDrain(message.announceMs, message.timeoutMs, 'primary');
          return;
        case 'edge46:request':
          void answer(app, metrics, id, message.id, message.what);
          return;
        default:
          return;
      }
    });
    process.off('message', onEarly);
    send({ type: 'edge46:ready' });
    const early = earlyDrain;
    if (early !== null) startDrain(early.announceMs, early.timeoutMs, 'primary');
  });
}

async function reload(
  app: App,
  log: Logger,
  root: Logger,
  opts: WorkerOptions,
  seq: number,
  input: unknown,
): Promise<void> {
  const checked = checkConfig(input);
  if (typeof checked === 'string') {
    send({ type: 'edge46:reloaded', seq, error: checked, summary: '' });
    return;
  }
  try {
    const summary = await app.reload(checked);
    // pino children copy the level when made: the App logs through `log`, a child of `root`.
    root.level = opts.cliLogLevel ?? checked.log.level;
    log.level = root.level;
    send({ type: 'edge46:reloaded', seq, error: null, summary: describeReload(summary) });
  } catch (err) {
    log.error({ err }, 'worker reload failed');
    send({
      type: 'edge46:reloaded',
      seq,
      error: err instanceof Error ? err.message : String(err),
      summary: '',
    });
  }
}

async function answer(
  app: App,
  metrics: Metrics,
  worker: number,
  id: number,
  what: 'metrics' | 'status',
): Promise<void> {
  const value = what === 'metrics' ? await metrics.registry.getMetricsAsJSON() : processStatus(app, worker);
  send({ type: 'edge46:response', id, value });
}

function checkConfig(input: unknown): Config | string {
  const result = validateConfig(input);
  return result.ok ? result.config : `invalid config from the primary:\n${formatProblems(result.problems)}`;
}

function send(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

function nextMessage(timeoutMs: number): Promise<ToWorker | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      resolve(null);
    }, timeoutMs);
    const onMessage = (message: unknown): void => {
      if (!isOurs<ToWorker>(message)) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
  });
}
