/**
 * Wires the stages and owns the lifecycle: start (bind every listener or none), close (stop accepting,
 * let open connections finish for a bounded time, then reset what is left). close() is idempotent and
 * safe after a partial start (STYLE.md §9).
 */
import type { AddressInfo } from 'node:net';
import type { DataPath, DataPathState } from './accept/data-path.js';
import { formatHostPort } from './accept/address.js';
import { ProxyListener } from './accept/listener.js';
import type { Config } from './config/schema.js';
import { UpstreamPools } from './http/upstream-pools.js';
import { checkNat46AtStart, nat46Prefixes } from './connect/nat46.js';
import { changedSettings, planListeners } from './lifecycle/listener-plan.js';
import type { Logger } from './observe/logger.js';
import { Metrics } from './observe/metrics.js';
import type { PipeEngine } from './pipe/engine.js';
import { choosePipeEngine, type ChosenEngine } from './pipe/choose.js';
import { AddressPolicy } from './resolve/address-policy.js';
import { AaaaResolver } from './resolve/resolver.js';
import { RouteTable } from './route/route-table.js';
import { Terminator } from './tls/terminator.js';

export interface AppOptions {
  readonly logger: Logger;
  /** Overrides the pipe engine (tests and the benchmark). */
  readonly pipe?: PipeEngine;
  /** Where the data path counts; default: a fresh registry without process metrics. */
  readonly metrics?: Metrics;
  /** Session ticket key secret shared by cluster workers (tls/ticket-keys.ts); default: per process. */
  readonly ticketSeed?: Buffer;
}

/** One listener as the admin server shows it. */
export interface ListenerStat {
  readonly name: string;
  readonly protocol: string;
  readonly address: string;
  /** Bound address ("127.0.0.1:8443"); null once it stopped accepting. */
  readonly bound: string | null;
  readonly connections: number;
  /** False for a listener a reload removed that still has connections open. */
  readonly configured: boolean;
}

export interface ReloadSummary {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
  readonly routes: number;
}

export class App implements DataPath {
  private state: DataPathState;
  private listeners: ProxyListener[] = [];
  /** Removed by a reload, not accepting, with connections still open. */
  private readonly retired = new Set<ProxyListener>();
  private closing: Promise<void> | null = null;
  private reloading: Promise<unknown> = Promise.resolve();
  /** The engine App.start chose (closed after the drain); a no-op close for an engine passed in. */
  private pipeOwner: ChosenEngine | null = null;
  readonly metrics: Metrics;
  /** Backend connection pools of the http listeners (closed last, after every client connection). */
  readonly upstreams: UpstreamPools;
  /** Certificates and TLS termination for terminate routes (set by start, before any listener). */
  terminator: Terminator | undefined;

  private constructor(
    config: Config,
    private readonly log: Logger,
    pipe: PipeEngine,
    metrics: Metrics | undefined,
  ) {
    this.metrics = metrics ?? new Metrics({ defaultMetrics: false });
    this.state = buildState(config, pipe, this.metrics, null);
    this.metrics.pipeEngineInfo.set({ engine: pipe.name }, 1);
    this.upstreams = new UpstreamPools(this, log);
    this.upstreams.start();
    this.metrics.bindLive({
      activeConnections: () => sumByName(this.allListeners(), (l) => l.connections),
      liveBytes: () => {
        const out = new Map<string, { toBackend: number; toClient: number }>();
        for (const l of this.allListeners()) {
          const b = l.liveBytes();
          const prev = out.get(l.config.name);
          out.set(l.config.name, {
            toBackend: b.toBackend + (prev?.toBackend ?? 0),
            toClient: b.toClient + (prev?.toClient ?? 0),
          });
        }
        return out;
      },
      dnsCacheEntries: () => this.state.resolver.snapshot().length,
    });
  }

  /** Binds every listener; if one fails, the ones already bound are closed and the error is thrown. */
  static async start(config: Config, opts: AppOptions): Promise<App> {
    // Before any listener binds: a NAT46 prefix that cannot be used fails the start with the reason.
    await checkNat46AtStart(config, opts.logger);
    const chosen: ChosenEngine =
      opts.pipe === undefined
        ? choosePipeEngine(config.pipe)
        : { engine: opts.pipe, fallbackReason: null, close: () => undefined };
    if (chosen.fallbackReason !== null) {
      opts.logger.info({ reason: chosen.fallbackReason }, 'pipe engine: splice unavailable, using js');
    }
    const app = new App(config, opts.logger, chosen.engine, opts.metrics);
    app.pipeOwner = chosen;
    try {
      app.terminator = await Terminator.start(config, {
        dataPath: app,
        log: opts.logger,
        ticketSeed: opts.ticketSeed,
      });
      for (const listenerConfig of config.listeners) {
        const listener = new ProxyListener(listenerConfig, app, opts.logger);
        app.listeners.push(listener);
        await listener.start();
      }
    } catch (err) {
      await app.close({ graceMs: 0 });
      throw err;
    }
    opts.logger.info(
      { listeners: app.listeners.length, routes: app.state.routes.size, pipe: app.state.pipe.name },
      `edge46 started: ${app.listeners.length} listener(s), ${app.state.routes.size} route(s)`,
    );
    return app;
  }

  current(): DataPathState {
    return this.state;
  }

  /** The bound address of each listener, by name. */
  addresses(): Map<string, AddressInfo> {
    const out = new Map<string, AddressInfo>();
    for (const listener of this.listeners) {
      const address = listener.address;
      if (address !== null) out.set(listener.config.name, address);
    }
    return out;
  }

  get connections(): number {
    return this.allListeners().reduce((sum, l) => sum + l.connections, 0);
  }

  listenerStats(): ListenerStat[] {
    const stat = (l: ProxyListener, configured: boolean): ListenerStat => {
      const bound = l.address;
      return {
        name: l.config.name,
        protocol: l.config.protocol,
        address: l.config.address,
        bound: bound === null ? null : formatHostPort(bound.address, bound.port),
        connections: l.connections,
        configured,
      };
    };
    return [...this.listeners.map((l) => stat(l, true)), ...[...this.retired].map((l) => stat(l, false))];
  }

  /**
   * Applies an already validated config (lifecycle/reload.ts validates): opens added listeners, then
   * swaps the data path state in one assignment (new connections see the new routes, resolver and
   * allowlist; open ones keep their snapshot), then stops accepting on removed listeners, whose open
   * connections continue. A listener that cannot bind rejects the reload and leaves everything as it
   * was. Reloads run one at a time.
   */
  reload(config: Config): Promise<ReloadSummary> {
    const run = this.reloading.then(() => this.applyConfig(config));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyConfig(config: Config): Promise<ReloadSummary> {
    if (this.closing !== null) throw new Error('edge46 is shutting down');
    // A NAT46 prefix the new config adds (or one whose route went away) rejects the reload, as at start.
    await checkNat46AtStart(config, this.log);
    // Certificates first: a terminate route requireCertificates cannot cover rejects the reload here.
    await this.terminator?.reconfigure(config);
    const plan = planListeners(this.listeners, config.listeners);
    await Promise.all(plan.closeFirst.map((l) => l.stopAccepting()));
    const started: ProxyListener[] = [];
    const next: ProxyListener[] = [];
    try {
      for (const step of plan.steps) {
        if (step.kind === 'keep') {
          next.push(step.listener);
          continue;
        }
        const listener = new ProxyListener(step.config, this, this.log);
        started.push(listener);
        await listener.start();
        next.push(listener);
      }
    } catch (err) {
      await Promise.all(started.map((l) => l.stopAccepting()));
      for (const l of plan.closeFirst) await l.start().catch(() => undefined);
      throw err;
    }
    if (this.closing !== null) {
      await Promise.all(started.map((l) => l.stopAccepting()));
      throw new Error('edge46 is shutting down');
    }
    const previous = this.state;
    this.state = buildState(config, previous.pipe, this.metrics, previous);
    for (const step of plan.steps) {
      if (step.kind !== 'keep') continue;
      const changed = changedSettings(step.listener.config, step.config);
      step.listener.config = step.config;
      if (changed.length > 0)
        this.log.info({ listener: step.config.name, changed }, 'listener settings updated');
    }
    this.listeners = next;
    for (const l of plan.remove) this.retire(l);
    if (this.state.resolver !== previous.resolver) retireResolver(previous);
    return {
      added: started.map((l) => l.config.name),
      removed: plan.remove.map((l) => l.config.name),
      kept: plan.steps.flatMap((s) => (s.kind === 'keep' ? [s.config.name] : [])),
      routes: this.state.routes.size,
    };
  }

  private retire(listener: ProxyListener): void {
    this.retired.add(listener);
    void listener.stopAccepting();
    void listener.whenIdle().then(() => {
      this.retired.delete(listener);
      this.log.info({ listener: listener.config.name }, 'removed listener: last connection closed');
    });
    this.log.info(
      { listener: listener.config.name, open: listener.connections },
      'listener removed: stopped accepting, open connections continue',
    );
  }

  private allListeners(): ProxyListener[] {
    return this.retired.size === 0 ? this.listeners : [...this.listeners, ...this.retired];
  }

  /** Stops accepting, waits up to graceMs for open connections, resets the rest. Idempotent. */
  close(opts: { graceMs: number }): Promise<void> {
    this.closing ??= this.doClose(opts.graceMs);
    return this.closing;
  }

  private async doClose(graceMs: number): Promise<void> {
    const listeners = this.allListeners();
    await Promise.all(listeners.map((l) => l.stopAccepting()));
    this.log.info({ open: this.connections }, 'stopped accepting');
    this.terminator?.drain();
    const idle = Promise.all(listeners.map((l) => l.whenIdle()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>(
      (resolve) => (timer = setTimeout(() => resolve('deadline'), graceMs)),
    );
    const first = await Promise.race([idle.then(() => 'idle' as const), deadline]);
    clearTimeout(timer);
    if (first === 'deadline' && this.connections > 0) {
      this.log.warn({ open: this.connections }, 'grace period over: resetting open connections');
      for (const listener of listeners) listener.abortAll();
      await idle;
    }
    await this.upstreams.close();
    // Every pair has finished (or was aborted and reported) by now: stop the engine's workers.
    this.pipeOwner?.close();
    this.terminator?.close();
    this.state.resolver.close();
    this.log.info('edge46 stopped');
  }
}

function buildState(
  config: Config,
  pipe: PipeEngine,
  metrics: Metrics,
  previous: DataPathState | null,
): DataPathState {
  const policy = AddressPolicy.create({
    allow: config.backends.allow,
    deny: config.backends.deny,
    reservedPrefixes: nat46Prefixes(config),
  });
  return {
    config,
    routes: RouteTable.build(config.routes),
    policy,
    // An unchanged resolver section keeps the resolver, and with it the warm cache.
    resolver:
      previous !== null && JSON.stringify(previous.config.resolver) === JSON.stringify(config.resolver)
        ? previous.resolver
        : buildResolver(config, metrics),
    pipe,
  };
}

/**
 * Closes a replaced resolver once the queries it has in flight have had time to finish: connections
 * call resolve() in the same tick as they read the state, so nothing new starts on it after the swap.
 */
function retireResolver(previous: DataPathState): void {
  const r = previous.config.resolver;
  const bound = 2 * r.timeoutMs * r.attempts * Math.max(1, r.servers?.length ?? 1) + 1_000;
  setTimeout(() => previous.resolver.close(), bound).unref();
}

function sumByName(
  listeners: readonly ProxyListener[],
  value: (l: ProxyListener) => number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of listeners) out.set(l.config.name, (out.get(l.config.name) ?? 0) + value(l));
  return out;
}

function buildResolver(config: Config, metrics: Metrics): AaaaResolver {
  const r = config.resolver;
  return new AaaaResolver(
    {
      ...(r.servers === undefined ? {} : { servers: r.servers }),
      timeoutMs: r.timeoutMs,
      attempts: r.attempts,
      minTtlSeconds: r.minTtlSeconds,
      maxTtlSeconds: r.maxTtlSeconds,
      negativeTtlSeconds: r.negativeTtlSeconds,
      staleSeconds: r.staleSeconds,
    },
    { onLookup: (result) => metrics.dnsLookup(result) },
  );
}
