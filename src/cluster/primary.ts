/**
 * `workers: N > 1`: the cluster primary. It owns the admin server and the config file; the workers
 * run the data path behind listeners node:cluster shares (the primary holds the sockets and hands
 * connections out round-robin). The primary:
 * - forks the workers and sends each the validated config; start fails (exit 1) if any worker cannot
 *   bind its listeners;
 * - reloads (SIGHUP, file change): validates once, counts the result, sends the config to every worker;
 * - drains (SIGTERM): /readyz fails at once, every worker drains, the primary exits 0 when all did;
 * - restarts a worker that dies, with back-off, logging the exit code or signal;
 * - serves /metrics as the sum of every worker's registry and its own (prom-client
 *   AggregatorRegistry), and /, /routes, /status from every worker's status.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { packageVersion } from '../cli.js';
import { AdminServer } from '../admin/server.js';
import { mergeStatus, type ProcessStatus, type WorkerInfo } from '../admin/status.js';
import type { Config } from '../config/schema.js';
import { drainTimings } from '../lifecycle/drain.js';
import { Readiness } from '../lifecycle/readiness.js';
import { Reloader } from '../lifecycle/reload.js';
import { installSignals } from '../lifecycle/signals.js';
import { warnRestartOnly, type RunOptions } from '../lifecycle/single.js';
import type { Logger } from '../observe/logger.js';
import { Metrics } from '../observe/metrics.js';
import { newTicketSeed } from '../tls/ticket-keys.js';
import { RestartBackoff } from './backoff.js';
import { isOurs, type FromWorker, type ToWorker, type WorkerMetrics } from './messages.js';

/** Workers that do not answer a metrics or status request within this are left out of the answer. */
const REQUEST_TIMEOUT_MS = 3_000;
/** A worker that has not applied a reload within this counts as failed. */
const RELOAD_TIMEOUT_MS = 30_000;
/** Extra time, beyond announce + timeout, before workers that still run after a drain are killed. */
const DRAIN_SLACK_MS = 5_000;

interface Slot {
  worker: Worker;
  /** The config it was started with or last reloaded to. */
  config: Config;
  /** It asked for and was sent its config (it can take orders from now on). */
  configured: boolean;
  state: WorkerInfo['state'];
  since: number;
  restarts: number;
}

export async function runPrimary(opts: RunOptions & { readonly workers: number }): Promise<number> {
  const primary = new Primary(opts);
  return primary.run();
}

class Primary {
  private readonly log: Logger;
  private readonly metrics = new Metrics();
  private readonly readiness = new Readiness();
  private readonly backoff = new RestartBackoff();
  private readonly slots = new Map<number, Slot>();
  private readonly startedAt = Date.now();
  /** Every worker (restarts too) derives the same session ticket keys: a ticket resumes on any worker. */
  private readonly ticketSeed = newTicketSeed().toString('base64');
  private config: Config;
  private reloader: Reloader;
  private admin: AdminServer | null = null;
  private stopping = false;
  private requestSeq = 0;
  private readonly pending = new Map<number, (worker: number, message: FromWorker) => void>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: RunOptions & { readonly workers: number }) {
    this.log = opts.logger.child({ role: 'primary' });
    this.config = opts.config;
    this.reloader = new Reloader({
      file: opts.configFile,
      log: this.log,
      metrics: this.metrics,
      apply: (config) => this.applyConfig(config),
    });
    this.readiness.add('workers', () => {
      const ready = [...this.slots.values()].filter((s) => s.state === 'ready').length;
      return ready > 0 ? null : 'no worker is serving yet';
    });
  }

  async run(): Promise<number> {
    const log = this.log;
    try {
      this.admin = await AdminServer.start({
        address: this.config.admin.address,
        log,
        source: {
          metrics: () => this.clusterMetrics(),
          readiness: () => this.readiness.report(),
          status: () => this.status(),
        },
      });
    } catch (err) {
      log.fatal({ err }, 'start failed');
      return 1;
    }
    cluster.on('message', (worker, message: unknown) => this.onMessage(worker, message));
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    let exit: (code: number) => void = () => {};
    const exited = new Promise<number>((resolve) => (exit = resolve));
    const signals = installSignals({
      reload: (signal) => void this.reloader.trigger(signal),
      drain: (signal) => {
        this.drain(signal).then(
          (code) => {
            signals.dispose();
            exit(code);
          },
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            exit(1);
          },
        );
      },
      exitNow: (signal) => {
        log.warn({ signal }, 'second signal: killing workers and exiting now');
        for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
        process.exit(1);
      },
    });

    log.info({ workers: this.opts.workers }, `starting ${this.opts.workers} workers`);
    const started = await Promise.all(Array.from({ length: this.opts.workers }, () => this.fork(0)));
    const failed = started.filter((e) => e !== null);
    if (failed.length > 0 && !this.stopping) {
      log.fatal({ errors: failed }, 'start failed: a worker could not start');
      signals.dispose();
      this.stopping = true;
      await this.killAll();
      await this.admin.close();
      return 1;
    }
    if (!this.stopping) {
      this.updateWorkerGauge();
      log.info({ workers: this.slots.size }, `edge46 cluster started: ${this.slots.size} worker(s)`);
      await this.reloader.start();
    }
    return exited;
  }

  /** Forks one worker and resolves once it serves (null) or failed to start (its error). */
  private fork(restarts: number): Promise<string | null> {
    const worker = cluster.fork();
    const slot: Slot = {
      worker,
      config: this.config,
      configured: false,
      state: 'starting',
      since: Date.now(),
      restarts,
    };
    this.slots.set(worker.id, slot);
    return new Promise((resolve) => {
      const onMessage = (message: unknown): void => {
        if (!isOurs<FromWorker>(message)) return;
        if (message.type === 'edge46:hello') {
          slot.config = this.config;
          slot.configured = true;
          this.sendTo(worker, { type: 'edge46:start', config: this.config, ticketSeed: this.ticketSeed });
        } else if (message.type === 'edge46:ready') {
          done(null);
          slot.state = this.stopping ? 'draining' : 'ready';
          slot.since = Date.now();
          this.updateWorkerGauge();
          this.log.info({ worker: worker.id, pid: worker.process.pid }, 'worker ready');
          // A reload that happened while it was starting did not reach it.
          if (slot.config !== this.config && !this.stopping) {
            slot.config = this.config;
            this.sendTo(worker, { type: 'edge46:reload', seq: this.nextId(), config: this.config });
          }
        } else if (message.type === 'edge46:start-failed') {
          done(message.error);
        }
      };
      const onExit = (): void => done(`worker ${worker.id} exited before it was ready`);
      const done = (result: string | null): void => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(result);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slots.get(worker.id);
    this.slots.delete(worker.id);
    this.updateWorkerGauge();
    if (this.stopping) {
      this.log.info({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker exited');
      return;
    }
    const delayMs = this.backoff.next();
    const why = signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
    this.log.warn(
      { worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: delayMs },
      `worker died (${why}); starting a replacement`,
    );
    this.metrics.workerRestartsTotal.inc();
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping) return;
      void this.fork((slot?.restarts ?? 0) + 1).then((error) => {
        if (error !== null) this.log.error({ error }, 'replacement worker failed to start');
      });
    }, delayMs);
    this.restartTimers.add(timer);
  }

  private onMessage(worker: Worker, message: unknown): void {
    if (!isOurs<FromWorker>(message)) return;
    const id =
      message.type === 'edge46:response'
        ? message.id
        : message.type === 'edge46:reloaded'
          ? message.seq
          : null;
    if (id === null) return;
    this.pending.get(id)?.(worker.id, message);
  }

  private async applyConfig(config: Config): Promise<string> {
    warnRestartOnly(this.log, this.config, config);
    const seq = this.nextId();
    const replies = await this.ask(
      seq,
      (id) => ({ type: 'edge46:reload', seq: id, config }),
      (m) => (m.type === 'edge46:reloaded' ? m : undefined),
      RELOAD_TIMEOUT_MS,
    );
    const failures = replies.missing.map((w) => `worker ${w}: no answer`);
    for (const [worker, reply] of replies.answers) {
      if (reply.error !== null) failures.push(`worker ${worker}: ${reply.error}`);
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
    this.config = config;
    for (const slot of this.slots.values()) if (replies.answers.has(slot.worker.id)) slot.config = config;
    // pino children copy the level when made: set it on the one this class logs with too.
    this.opts.logger.level = this.opts.cliLogLevel ?? config.log.level;
    this.log.level = this.opts.logger.level;
    const first = replies.answers.values().next().value;
    return `${first?.summary ?? 'no workers'} (${replies.answers.size} worker(s))`;
  }

  private async drain(signal: string): Promise<number> {
    this.stopping = true;
    this.reloader.close();
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.readiness.startDraining();
    this.metrics.draining.set(1);
    const { announceMs, timeoutMs } = drainTimings(this.config.drain);
    this.log.info(
      { signal, announceMs, timeoutMs, workers: this.slots.size },
      'draining: /readyz fails now; workers keep accepting during the announce window',
    );
    // A worker that has not even asked for its config serves nothing: it is stopped, and its exit
    // counts as clean. One that has its config drains once its listeners are bound.
    const exits = [...this.slots.values()].map((slot) => {
      const unborn = !slot.configured;
      return new Promise<number | null>((resolve) =>
        slot.worker.once('exit', (code) => resolve(unborn ? 0 : code)),
      );
    });
    for (const slot of this.slots.values()) {
      if (!slot.configured) slot.worker.process.kill('SIGKILL');
      else this.sendTo(slot.worker, { type: 'edge46:drain', announceMs, timeoutMs });
      slot.state = 'draining';
    }
    const bound = setTimeout(
      () => {
        this.log.warn({ workers: this.slots.size }, 'workers still running after the drain: killing them');
        for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
      },
      announceMs + timeoutMs + DRAIN_SLACK_MS,
    );
    const codes = await Promise.all(exits);
    clearTimeout(bound);
    await this.admin?.close();
    const clean = codes.every((c) => c === 0);
    this.log.info(
      { codes },
      clean ? 'edge46 cluster stopped' : 'edge46 cluster stopped; some workers failed',
    );
    return clean ? 0 : 1;
  }

  private async killAll(): Promise<void> {
    const exits = [...this.slots.values()].map(
      (slot) =>
        new Promise<void>((resolve) =>
          slot.worker.isDead() ? resolve() : slot.worker.once('exit', () => resolve()),
        ),
    );
    for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
    await Promise.all(exits);
  }

  private async clusterMetrics(): Promise<{ contentType: string; body: string }> {
    const seq = this.nextId();
    const replies = await this.ask(
      seq,
      (id) => ({ type: 'edge46:request', id, what: 'metrics' }),
      (m) => (m.type === 'edge46:response' ? (m.value as WorkerMetrics) : undefined),
      REQUEST_TIMEOUT_MS,
    );
    const all = [...replies.answers.values(), await this.metrics.registry.getMetricsAsJSON()];
    const registry = AggregatorRegistry.aggregate(all);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  private async status(): Promise<ReturnType<typeof mergeStatus>> {
    const seq = this.nextId();
    const replies = await this.ask(
      seq,
      (id) => ({ type: 'edge46:request', id, what: 'status' }),
      (m) => (m.type === 'edge46:response' ? (m.value as ProcessStatus) : undefined),
      REQUEST_TIMEOUT_MS,
    );
    const parts = [...replies.answers.values()].sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0));
    return mergeStatus(parts, {
      version: packageVersion(),
      mode: 'cluster',
      startedAt: this.startedAt,
      readiness: this.readiness.report(),
      workers: [...this.slots.values()].map((s) => ({
        id: s.worker.id,
        pid: s.worker.process.pid ?? 0,
        state: s.state,
        since: s.since,
        restarts: s.restarts,
      })),
      lastReload: this.reloader.last,
    });
  }

  /**
   * Sends a request to every connected worker and collects the answers; workers that do not answer
   * within the timeout (or die meanwhile) are listed as missing.
   */
  private ask<T>(
    id: number,
    build: (id: number) => ToWorker,
    pick: (message: FromWorker) => T | undefined,
    timeoutMs: number,
  ): Promise<{ answers: Map<number, T>; missing: number[] }> {
    const targets = [...this.slots.values()].filter((s) => s.state !== 'starting' && s.worker.isConnected());
    const answers = new Map<number, T>();
    if (targets.length === 0) return Promise.resolve({ answers, missing: [] });
    return new Promise((resolve) => {
      const waiting = new Set(targets.map((s) => s.worker.id));
      const finish = (): void => {
        clearTimeout(timer);
        for (const off of exits) off();
        this.pending.delete(id);
        resolve({ answers, missing: [...waiting] });
      };
      const timer = setTimeout(finish, timeoutMs);
      // A worker that dies meanwhile will not answer: stop waiting for it (it is not "missing").
      const exits = targets.map((slot) => {
        const onExit = (): void => {
          waiting.delete(slot.worker.id);
          if (waiting.size === 0) finish();
        };
        slot.worker.once('exit', onExit);
        return () => slot.worker.off('exit', onExit);
      });
      this.pending.set(id, (worker, message) => {
        const value = pick(message);
        if (value === undefined || !waiting.has(worker)) return;
        waiting.delete(worker);
        answers.set(worker, value);
        if (waiting.size === 0) finish();
      });
      for (const slot of targets) this.sendTo(slot.worker, build(id));
    });
  }

  private sendTo(worker: Worker, message: ToWorker): void {
    if (!worker.isConnected()) return;
    worker.send(message, (err: Error | null) => {
      if (err !== null) this.log.debug({ err, worker: worker.id }, 'IPC send failed');
    });
  }

  private nextId(): number {
    this.requestSeq += 1;
    return this.requestSeq;
  }

  private updateWorkerGauge(): void {
    const counts = { ready: 0, starting: 0, draining: 0 };
    for (const slot of this.slots.values()) counts[slot.state] += 1;
    for (const [state, n] of Object.entries(counts)) this.metrics.workers.set({ state }, n);
  }
}
